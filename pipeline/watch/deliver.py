"""Delivering one alert: an HTTP POST of JSON to a webhook, an e-mail through SMTP.

Each attempt is bounded twice: the socket timeout of every operation, and a deadline on the
whole attempt (a receiver that answers a byte at a time would outlast any socket timeout), so
an alert that cannot be delivered costs at most ``TIMEOUT`` seconds a channel. The SMTP
password is read from the environment variable the config names, when the message is sent; it
is never stored or shown. urllib, smtplib and ssl are imported only when an alert is sent.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass, fields

TIMEOUT = 3.0  # seconds a channel may take for one alert
WEBHOOK, EMAIL = "webhook", "email"


class DeliveryError(RuntimeError):
    """An alert could not be delivered on a channel; the message says why, in one line."""


@dataclass(frozen=True)
class Destinations:
    """Where alerts go: a webhook, e-mail addresses and the SMTP server to reach them."""

    webhook_url: str | None = None
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password_env: str | None = None

    @classmethod
    def of(cls, settings) -> Destinations:
        """The destinations of a config's Settings."""
        return cls(**{f.name: getattr(settings, f.name if f.name.startswith("smtp")
                                      else "alert_" + f.name) for f in fields(cls)})

    @classmethod
    def from_record(cls, record: dict | None) -> Destinations | None:
        """Destinations as as_record() kept them (None when there is no usable record)."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(**{**record, "email_to": tuple(record.get("email_to") or ())})
        except TypeError:
            return None

    def as_record(self) -> dict:
        """A plain dict to keep beside the alert state (no password: only its variable)."""
        return asdict(self)

    def channels(self) -> tuple[str, ...]:
        """The configured channels."""
        return tuple(name for name, on in ((WEBHOOK, self.webhook_url),
                                           (EMAIL, self.email_to and self.email_from)) if on)

    def public(self) -> dict:
        """What the pages may show: no webhook path (a chat webhook's path is its secret),
        no password, only whether its variable is set."""
        from urllib.parse import urlsplit

        hook = urlsplit(self.webhook_url) if self.webhook_url else None
        return {"webhook": f"{hook.scheme}://{hook.netloc.rpartition('@')[2]}/…"
                if hook else None,
                "email_to": list(self.email_to), "email_from": self.email_from,
                "smtp": f"{self.smtp_host}:{self.smtp_port}" if self.email_to else None,
                "starttls": self.smtp_starttls, "smtp_user": self.smtp_user,
                "password_env": self.smtp_password_env,
                "password_set": bool(self.smtp_password_env
                                     and os.environ.get(self.smtp_password_env))}


def _bounded(task, seconds: float) -> None:
    """Run task() with a deadline; DeliveryError when it fails or takes longer."""
    failure: list[BaseException] = []

    def run():
        try:
            task()
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    worker = threading.Thread(target=run, name="alert-delivery", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DeliveryError(f"no answer within {seconds:.0f} s")
    if failure:
        exc = failure[0]
        if isinstance(exc, DeliveryError):
            raise exc
        raise DeliveryError(" ".join(f"{type(exc).__name__}: {exc}".split())[:200])


def post_webhook(url: str, alert: dict, timeout: float = TIMEOUT) -> None:
    """POST the alert as JSON; DeliveryError unless the receiver answers 2xx."""
    import json
    import urllib.error
    import urllib.request

    body = json.dumps(alert).encode()

    def send():
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "risk-assessment-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the answer's socket
            raise DeliveryError(f"the webhook answered {exc.code} {exc.reason}") from None

    _bounded(send, timeout + 0.5)


def email_message(alert: dict, sender: str, to: tuple[str, ...]):
    """The alert as an e-mail: its sentence as the subject and first line, then the details."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["Subject"] = f"[risk] {alert['event']}: {alert['text']}"[:200]
    message["From"], message["To"] = sender, ", ".join(to)
    message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid("risk")
    lines = [alert["text"], "", f"event: {alert['event']}",
             f"model version: {alert.get('model_version')}", f"time: {alert['time']}"]
    lines += [f"{key}: {value}" for key, value in (alert.get("details") or {}).items()]
    message.set_content("\n".join(lines) + "\n")
    return message


def send_email(dest: Destinations, alert: dict, timeout: float = TIMEOUT) -> None:
    """Send the alert through SMTP: STARTTLS and login when configured."""
    password = None
    if dest.smtp_user:
        password = os.environ.get(dest.smtp_password_env or "")
        if not password:
            raise DeliveryError(f"the SMTP password variable {dest.smtp_password_env} is not "
                                "set in the environment")
    message = email_message(alert, dest.email_from or "", dest.email_to)

    def send():
        import smtplib
        import ssl

        try:
            with smtplib.SMTP(dest.smtp_host, dest.smtp_port, timeout=timeout) as smtp:
                if dest.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if dest.smtp_user:
                    smtp.login(dest.smtp_user, password)
                smtp.send_message(message)
        except smtplib.SMTPException as exc:
            raise DeliveryError(" ".join(f"SMTP: {exc}".split())[:200]) from None

    _bounded(send, timeout + 0.5)


def send(channel: str, dest: Destinations, alert: dict, timeout: float = TIMEOUT) -> None:
    """Deliver the alert on one channel; DeliveryError when it cannot be."""
    if channel == WEBHOOK:
        post_webhook(dest.webhook_url or "", alert, timeout)
    else:
        send_email(dest, alert, timeout)
