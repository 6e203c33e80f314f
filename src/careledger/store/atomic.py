"""Durable file writes, written once: temp file in the same directory, write, fsync, rename,
fsync the directory; the temp file is removed if anything fails. A reader sees the old file or
the new one, never a torn one, and after the call returns the new one survives a power cut."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Prefix of temp files; ``cleanup_temps`` removes stale ones left by a crash.
TEMP_PREFIX = ".tmp-"


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mkdirs_durable(directory: Path, stop: Path | None = None,
                   group: GroupCommit | None = None) -> None:
    """Create ``directory`` (and parents up to ``stop``), fsyncing each parent that changed;
    with ``group``, each directory created is recorded instead, with its parent, for the group's
    single fsync of every touched directory."""
    missing: list[Path] = []
    current = directory
    while current != stop and current != current.parent and not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        if group is None:
            fsync_dir(path.parent)
        else:
            group.dirs.add(str(path))
            group.dirs.add(str(path.parent))


class GroupCommit:
    """Group commit: a batch's files are written (temp file, rename) without fsync, then
    ``commit()`` fsyncs each file once and each touched directory once, concurrently from a
    thread pool (fsyncs of different files overlap in the filesystem's journal), instead of
    two fsyncs per file one after the other. Nothing may rely on the files (e.g. anchor them
    on chain) before ``commit()`` returns.

    ``files`` and ``dirs`` are plain path strings so a group can be filled in worker processes
    and merged (``merge``) in the one that commits.
    """

    def __init__(self) -> None:
        self.files: list[str] = []
        self.dirs: set[str] = set()

    def add_file(self, path: Path) -> None:
        """A file written (renamed into ``path.parent``) since the last commit."""
        self.files.append(str(path))
        self.dirs.add(str(path.parent))

    def merge(self, files: Iterable[str], dirs: Iterable[str]) -> None:
        """Add what another process staged."""
        self.files.extend(files)
        self.dirs.update(dirs)

    def __len__(self) -> int:
        return len(self.files) + len(self.dirs)

    def commit(self) -> int:
        """fsync every staged file, then every touched directory; return how many fsyncs."""
        files, dirs = self.files, sorted(self.dirs)
        self.files, self.dirs = [], set()
        if os.name != "posix":
            return 0
        pool = _sync_pool()
        for paths in (files, dirs):  # every file, then every directory naming one
            step = max(1, -(-len(paths) // SYNC_THREADS))
            list(pool.map(_fsync_paths, [paths[k:k + step] for k in range(0, len(paths), step)]))
        return len(files) + len(dirs)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
#: fsyncs in flight at once (they mostly wait on the disk, not the CPU)
SYNC_THREADS = 32


def _sync_pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="careledger-fsync")
        return _POOL


def _fsync_paths(paths: list[str]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(target: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                 make_parents: bool = False, durable: bool = True,
                 group: GroupCommit | None = None) -> Path:
    """Replace ``target`` with ``data`` atomically and durably; return its path.

    Args:
        target: the file to (re)place.
        data: its new content.
        mode: permission bits of the new file, whatever the umask (0o600 for secrets).
        make_parents: create missing parent directories (durably) first.
        durable: fsync the file and its directory (``False``: the caller makes a group of
            writes durable at once with ``sync_filesystem``, before relying on them).
        group: a ``GroupCommit``: no fsync here, the file and its directory are fsynced once
            by ``group.commit()``.
    """
    if group is not None:
        durable = False
    path = Path(target)
    directory = path.parent
    if make_parents:
        mkdirs_durable(directory)
    temp = directory / f"{TEMP_PREFIX}{path.name}-{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(directory)
    elif group is not None:
        group.add_file(path)
    return path


def sync_filesystem(path: str | os.PathLike[str]) -> None:
    """Make every write to the filesystem holding ``path`` durable (``syncfs``; ``sync`` where
    it is missing): one flush for a group of writes instead of two fsyncs each."""
    import ctypes
    import ctypes.util

    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def write_json_atomic(target: str | os.PathLike[str], value: Any, *, mode: int = 0o644,
                      make_parents: bool = False, indent: int | None = 2) -> Path:
    """``write_atomic`` of ``value`` as JSON (sorted keys, trailing newline)."""
    text = json.dumps(value, indent=indent, sort_keys=True) + "\n"
    return write_atomic(target, text.encode(), mode=mode, make_parents=make_parents)


def cleanup_temps(root: Path, older_than: float) -> int:
    """Remove temp files under ``root`` older than ``older_than`` seconds; return how many."""
    removed = 0
    now = time.time()
    if not root.exists():
        return 0
    for path in root.rglob(f"{TEMP_PREFIX}*"):
        try:
            if now - path.stat().st_mtime >= older_than:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
