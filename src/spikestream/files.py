"""Atomic writes and build locks: the one place spikestream makes a file or folder appear whole.

A file is written to ``<name>.<unique>.partial`` (unique per writer, so two processes filling
the same cache entry never rename each other's file away) and a folder built in
``<name>.partial/`` (under `build_lock` where builders may race); each is renamed onto its final
name only when the block exits cleanly, so an interrupted or failed write never leaves output
that looks complete. Concurrent builders of the same target (every
rank of a distributed job preparing a dataset) serialise on ``<name>.lock`` through
`filelock` (works on every platform).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError

PARTIAL = ".partial"


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where ``path`` is built before it takes its name."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL)


def write_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` replaces: ``path`` with its symbolic links resolved; a
    `ConfigError` naming it when it exists and is not a regular file (see `atomic_file`)."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
        shown = str(path) if str(path) == str(target) else f"{path} (-> {target})"
        raise ConfigError(
            f"{shown} is {kind}; spikestream writes whole files and would replace it: give the "
            "path of a regular file or a new name"
        )
    return target


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """Open ``<path>.<unique>.partial`` for writing; rename it onto ``path`` when the block
    succeeds, remove it when the block raises (KeyboardInterrupt included).

    A symbolic link is written through: the file is built next to the link's final target and
    replaces that target, the link stays. An existing ``path`` that is not a regular file (a
    FIFO, a device such as ``/dev/null``, a socket) is refused with a `ConfigError` naming it:
    renaming over it would replace the special file by a regular one, and writers may seek,
    which a FIFO cannot."""
    path = write_target(path)
    # not tempfile.mkstemp: its files are private (0600); this one gets the usual permissions
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}{PARTIAL}")
    handle = open(tmp, mode, **kwargs)
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty ``<path>.partial/`` to build in; it replaces ``path`` (any older folder
    of that name is removed) when the block succeeds and is removed when the block raises."""
    path = Path(path)
    tmp = partial_path(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def build_lock(target: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``<target>.lock`` while building ``target``, so that processes preparing the same
    target at once build it once: the others wait, then find it complete. The lock file stays
    (removing it would race)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock_for(target.with_name(target.name + ".lock")):
        yield


_LOCKS: dict[str, Any] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(lock_path: Path) -> Any:
    """One `filelock.FileLock` per lock file in this process: a thread that already holds it
    (``prepare`` around ``store.build``, both locking) re-enters instead of deadlocking on its
    own lock, while other threads and processes wait (the lock is per thread)."""
    from filelock import FileLock

    key = os.path.abspath(lock_path)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = FileLock(key)
        return lock
