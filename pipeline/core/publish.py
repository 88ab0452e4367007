"""Writing the production deployment: a complete version folder, then one atomic switch.

The reading side is pipeline.core.deployed; deployment.py decides what to publish (a trained
model, or an existing deployment it adopts) and calls ``publish_version``. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pipeline.core.deployed import DEPLOYED_FILES, NoDeployment, current_deployment, version_dirs
from pipeline.core.files import atomic_write_text, fsync_dir, sha256_file
from pipeline.core.names import CURRENT, MANIFEST, VERSIONS


class DeploymentError(RuntimeError):
    """The files to deploy are missing or do not belong together."""


def _copy_synced(source: Path | bytes, target: Path) -> None:
    with open(target, "wb") as dst:
        if isinstance(source, bytes):
            dst.write(source)
        else:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, dst)
        dst.flush()
        os.fsync(dst.fileno())


def _point_link(folder: Path, name: str, target: str) -> None:
    """Make folder/name a symbolic link to target, replacing what was there in one rename."""
    link = folder / name
    if link.is_symlink() and os.readlink(link) == target:
        return
    if link.is_dir() and not link.is_symlink():
        raise DeploymentError(f"{link} is a folder; move it away to deploy here")
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def switch_to(deployment_folder: Path, version_folder: Path) -> None:
    """Make a version current: one atomic swap of the ``current`` link."""
    _point_link(deployment_folder, CURRENT, f"{VERSIONS}/{version_folder.name}")
    # Course-compatible paths at the top of the folder; they always go through ``current``.
    for name in (*DEPLOYED_FILES, MANIFEST):
        _point_link(deployment_folder, name, f"{CURRENT}/{name}")
    fsync_dir(deployment_folder)


def _claim_version(versions: Path, staged: Path, manifest: dict) -> Path:
    """Rename a staged folder to the next free version number; returns its new path.

    The manifest is written into the staged folder with the number it is about to get, so a
    version folder is complete, manifest included, from the instant it has its name.
    """
    number = max(version_dirs(versions.parent), default=0) + 1
    while True:
        manifest["version"] = number
        atomic_write_text(staged / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        target = versions / f"v{number:04d}"
        try:
            os.rename(staged, target)  # fails if a complete version already has that name
        except OSError:
            if not target.exists():
                raise
            number += 1
            continue
        fsync_dir(versions)
        return target


def publish_version(deployment_folder: Path, sources: Mapping[str, Path | bytes],
                    manifest: dict, verify: Callable[[dict], None] | None = None) -> Path:
    """Copy ``sources`` (file name -> a file or its bytes) into a new version folder with
    ``manifest`` (completed with the files' checksums and the version number), and make it
    current. ``verify(files)`` may refuse the copied files' checksums before anything is
    published. Returns the version folder."""
    versions = deployment_folder / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    for child in versions.glob(".staging-*"):  # left by an interrupted deployment
        shutil.rmtree(child, ignore_errors=True)
    staged = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions))
    staged.chmod(0o755)
    try:
        for name, source in sources.items():
            _copy_synced(source, staged / name)
        files = {name: sha256_file(staged / name) for name in sources}
        if verify is not None:
            verify(files)
        manifest["files"] = files
        final = _claim_version(versions, staged, manifest)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    switch_to(deployment_folder, final)
    return final


def prune_versions(deployment_folder: Path, keep: int) -> list[int]:
    """Delete the oldest versions beyond ``keep``, never the current one; returns those deleted."""
    try:
        current = current_deployment(deployment_folder).version
    except NoDeployment:
        return []
    numbers = [n for n in version_dirs(deployment_folder) if n != current]
    doomed = numbers[: max(0, len(numbers) - (keep - 1))]  # the current one counts in keep
    for number in doomed:
        shutil.rmtree(version_dirs(deployment_folder)[number], ignore_errors=True)
    return doomed
