"""Errors shared by the cycle's light and heavy halves (standard library only)."""


class CycleError(RuntimeError):
    """A cycle could not do its whole job; the message says why.

    ``handled`` is True when the new data was dealt with (e.g. a version was deployed) and only
    a later step failed, so the next cycle must not treat the same files as new again.
    """

    def __init__(self, message: str, handled: bool = False):
        super().__init__(message)
        self.handled = handled
