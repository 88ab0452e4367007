"""Run fullprocess.py and SIGKILL it at a chosen point: the Nth checkpoint of the cycle.

A checkpoint is a call into the project's own code (any function of a file of this repository
outside tests/ and bench/) or a call of one of the file-system operations that publish results
(os.replace, os.rename, os.symlink, os.unlink, os.fsync, os.mkdir). They are counted with
sys.setprofile from this wrapper, so production code carries no test hook.

    python bench/killpoint.py --trace calls.txt -- --config config.json --no-api
        runs the cycle whole and writes one line per checkpoint (number, name)
    python bench/killpoint.py --at 1234 -- --config config.json --no-api
        runs the cycle and kills itself with SIGKILL on entering checkpoint 1234
    python bench/killpoint.py --at-call cycle.local_server.answers#2 -- --config ...
        runs the cycle and kills itself with SIGKILL on entering the 2nd call of that function
        (a module's function, a class's method: requests.Session.request, os.killpg). Only that
        function is wrapped, so the cycle runs at full speed until then.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import signal
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
_SKIP = (str(PROJECT / "tests"), str(PROJECT / "bench"), str(PROJECT / ".venv"))
_OS_CALLS = {os.replace, os.rename, os.symlink, os.unlink, os.fsync, os.mkdir}


def _ours(filename: str) -> bool:
    return filename.startswith(str(PROJECT)) and not filename.startswith(_SKIP)


def _resolve(dotted: str) -> tuple[object, str, object]:
    """(owner, attribute, function) of "package.module.function" or "module.Class.method"."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ValueError(f"no function {dotted}")


def kill_at_call(target: str) -> None:
    """SIGKILL this process on entering the Kth call of target ("dotted.name#K", K=1 default).

    The function is replaced where it is defined and in every module of the project that
    imported it by name, so every caller goes through the counter.
    """
    dotted, _, nth = target.partition("#")
    nth = int(nth or 1)
    import cycle.steps  # noqa: F401 - the cycle's modules, so that their imports are patched too

    owner, attr, func = _resolve(dotted)
    calls = 0

    @functools.wraps(func)
    def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return func(*args, **kwargs)

    setattr(owner, attr, counted)
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) and _ours(module.__file__):
            for name, value in list(vars(module).items()):
                if value is func:
                    setattr(module, name, counted)


def main(argv: list[str] | None = None) -> int:
    """Run fullprocess.main(rest) under the checkpoint counter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", type=Path, help="write every checkpoint to this file")
    parser.add_argument("--at", type=int, default=0, help="SIGKILL at this checkpoint")
    parser.add_argument("--at-call", help="SIGKILL on entering this call: dotted.name[#K]")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    sys.path.insert(0, str(PROJECT))
    import fullprocess

    if args.at_call:
        kill_at_call(args.at_call)
        return fullprocess.main(rest)

    count = 0
    names: list[str] = []
    ours: dict = {}  # code object -> bool, so each file name is tested once

    def profile(frame, event, arg):
        nonlocal count
        if event == "call":
            code = frame.f_code
            mine = ours.get(code)
            if mine is None:
                mine = ours[code] = _ours(code.co_filename)
            if not mine:
                return
            name = f"{Path(code.co_filename).stem}.{code.co_name}"
        elif event == "c_call" and arg in _OS_CALLS:
            name = f"os.{arg.__name__}"
        else:
            return
        count += 1
        if args.trace is not None:
            names.append(name)
        if count == args.at:
            os.kill(os.getpid(), signal.SIGKILL)

    sys.setprofile(profile)
    try:
        code = fullprocess.main(rest)
    finally:
        sys.setprofile(None)
    if args.trace is not None:
        args.trace.write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(names, 1)),
                              encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
