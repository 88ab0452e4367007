"""The cron quick path: is there anything to do at all? Standard library only.

Almost every cycle finds nothing new, so this path is built to cost about as much as starting
Python: it imports os, errno, fcntl and json, the interpreter's built-in SHA-256 (and the
project's file names, which are constants, and the cycle record, pipeline.watch.ledger), looks at
file sizes and modification times, records the quiet cycle beside its config, and answers. Any
doubt answers "maybe", and the full cycle (cycle.run) decides with checksums. Its comparison of
the input folder is a copy of pipeline.ingest.inputs.compare_folder made without checksums; a
test checks that they agree.
"""

from __future__ import annotations

import os

from pipeline.core.names import (
    CONFIGS_KEY,
    CURRENT,
    LOCK_FILE,
    MANIFEST,
    MODEL_FILE,
    OUTPUTS_FILE,
    SEEN_FILES,
)

PATH_KEYS = ("input_folder_path", "output_folder_path", "output_model_path",
             "prod_deployment_path")


def acquire_lock(folder: str):
    """An exclusive lock on folder/.fullprocess.lock, or None when another cycle holds it.

    The kernel releases the lock when its holder dies, so a killed cycle never blocks the next.
    """
    import errno
    import fcntl

    os.makedirs(folder, exist_ok=True)
    handle = open(os.path.join(folder, LOCK_FILE), "a+")  # noqa: SIM115 - held for the cycle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def quick_paths(config_path: str) -> dict[str, str]:
    """The four folders the quick check needs, resolved as pipeline.core.config resolves them;
    ``input_key``, the input folder's key in seenfiles.json (Settings.input_key); ``config``, the
    config file's real path, and ``config_key``, its key in seenfiles.json's "configs/"."""
    import json

    with open(config_path, encoding="utf-8") as handle:
        raw = json.load(handle)
    # As pipeline.core.config does: the config file's real location (links resolved) is the root.
    config = os.path.realpath(os.path.expanduser(config_path))
    root = os.path.dirname(config)
    paths = {key: os.path.join(root, os.path.expanduser(raw[key])) for key in PATH_KEYS}
    configured = raw["input_folder_path"]
    # As pipeline.core.config.folder_key: relative to the config's folder, else absolute.
    paths["input_key"] = os.path.normpath(paths["input_folder_path"]) \
        if os.path.isabs(os.path.expanduser(configured)) \
        else os.path.normpath(configured).replace(os.sep, "/")
    paths["config"] = config
    # As cycle.changes.config_key: relative to the output folder's real place.
    paths["config_key"] = os.path.relpath(paths["config"],
                                          os.path.realpath(paths["output_folder_path"]))
    return paths


def folder_unchanged(folder: str, seen: dict) -> bool:
    """True when every *.csv entry of folder matches its record by size and time (and no entry
    is added, gone or marked for a retry). Never reads a file: a touched file answers False."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    names = set()
    for entry in entries:
        if not entry.name.lower().endswith(".csv"):
            continue
        record = seen.get(entry.name)
        if not isinstance(record, dict):
            return False
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            if "refused" not in record:
                return False
        else:  # a file: as recorded (read, or refused for its name), by size and time
            stat = entry.stat(follow_symlinks=False)
            if record.get("size") != stat.st_size or record.get("mtime_ns") != stat.st_mtime_ns \
                    or record.get("retry") or ("sha256" not in record and "refused" not in record):
                return False
        names.add(entry.name)
    return names == set(seen)


def nothing_new(paths: dict[str, str]) -> bool:
    """True when an intact model is deployed, the reports describe it, and every *.csv entry
    matches the last cycle.

    Only names, sizes and modification times are compared; any doubt answers False, and the
    full cycle then decides with checksums (and reports a deployed model that fails its own).
    """
    import json

    sha = deployed_model_sha(paths["prod_deployment_path"])
    if sha is None or not outputs_current(paths["output_model_path"], sha):
        return False
    folder = os.path.abspath(paths["input_folder_path"])
    try:
        with open(os.path.join(paths["output_folder_path"], SEEN_FILES), encoding="utf-8") as fh:
            state = json.load(fh)
        seen = state.get(paths["input_key"])
        stat = os.stat(paths["config"])
        checked = state.get(CONFIGS_KEY, {}).get(paths["config_key"])
    except (OSError, ValueError, AttributeError):
        return False
    if checked != [stat.st_size, stat.st_mtime_ns]:
        return False  # a config no full cycle has checked: the full cycle loads it (and says)
    # Records under an older release's key (the absolute path) are left to the full cycle,
    # which takes them over: "maybe" here.
    return isinstance(seen, dict) and folder_unchanged(folder, seen)


def outputs_current(model_folder: str, model_sha256: str) -> bool:
    """True when the reports in model_folder were all refreshed for the given deployed model.

    A cycle killed (or failing) between deploying and reporting leaves them describing the
    previous model; the next cycle sees it here and refreshes them.
    """
    import json

    try:
        with open(os.path.join(model_folder, OUTPUTS_FILE), encoding="utf-8") as handle:
            return json.load(handle).get("model_sha256") == model_sha256
    except (OSError, ValueError, AttributeError):
        return False


def deployed_model_sha(folder: str) -> str | None:
    """The SHA-256 of current/trainedmodel.pkl when it matches its manifest (a few KB read)."""
    import json

    try:  # the built-in SHA-256 imports in microseconds; hashlib loads OpenSSL (about 4 ms)
        from _sha256 import sha256  # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # Python 3.12 and later
        except ImportError:
            from hashlib import sha256

    current = os.path.join(folder, CURRENT)
    try:
        with open(os.path.join(current, MANIFEST), encoding="utf-8") as handle:
            expected = json.load(handle)["model_sha256"]
        with open(os.path.join(current, MODEL_FILE), "rb") as handle:
            return expected if sha256(handle.read()).hexdigest() == expected else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def quick_args(argv: list[str], default_config: str) -> tuple[str, bool] | None:
    """(config, verbose) when argv is one the quick path understands, else None."""
    config, verbose, rest = default_config, False, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--config" and rest:
            config = rest.pop(0)
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        elif arg == "--no-api":
            pass
        elif arg in ("-v", "--verbose"):
            verbose = True
        else:
            return None
    return config, verbose


def quick_cycle(argv: list[str], default_config: str) -> int | None:
    """Settle the cycle without the full machinery when possible: 0 when another cycle holds
    the lock or nothing is new; None when the full cycle must run."""
    quick = quick_args(argv, default_config)
    if quick is None or quick[1]:
        return None
    try:
        paths = quick_paths(quick[0])
        lock = acquire_lock(paths["prod_deployment_path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the full cycle reports what is wrong
    if lock is None:
        print(f"another cycle is running on {paths['prod_deployment_path']}; nothing done")
        return 0
    try:
        if nothing_new(paths) and quiet_recorded(paths):
            import time

            print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} nothing new in "
                  f"{paths['input_folder_path']}")
            return 0
    finally:
        lock.close()
    return None


def quiet_recorded(paths: dict[str, str]) -> bool:
    """Record the quiet cycle beside its config (pipeline.watch.ledger), the trace /health's
    rule needs of it; False when the full cycle must run instead: an earlier cycle failed or
    never finished, the last success is too old, or alerts are open or undelivered (the full
    cycle announces and delivers them), or the record cannot be written."""
    from pipeline.watch.ledger import record_quiet

    try:
        return record_quiet(paths["config"]) is None
    except (OSError, ValueError):
        return False
