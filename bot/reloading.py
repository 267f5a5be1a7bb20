"""One reloading cache for everything built from files (FAQ content, the router, the vocabulary,
membership options), plus on-disk snapshots of what was last built.

`Reloading` holds one value per process. The value's files are looked at (a cheap stamp such as
their mtimes) at most every `check_every` seconds. When they change, the value is rebuilt:
- content that does not validate is refused once: the error is logged with the stamp that
  caused it, that stamp is never tried again, and the last good value stays in use;
- with `background=True` a valid change is built in a thread and swapped in when ready, so the
  callers (the message path) keep getting the previous value meanwhile instead of waiting.

Snapshots (`save_snapshot` / `load_snapshot`) pickle a built value under a key (a hash of the
content and of the code that built it) so a restart loads it instead of rebuilding, and a
process that starts with broken content can serve the last good one. A `filelock` lets one
process build while the others wait for its snapshot.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
T = TypeVar("T")
_UNSET = object()


class Reloading(Generic[T]):
    """A value built from files, rebuilt when `stamp()` changes (see the module docstring).

    build(stamp) returns the new value or raises; fallback(exc) may supply a value when there is
    none yet (e.g. the last good snapshot), else the first build's error is raised to the caller.
    """

    def __init__(self, name: str, stamp: Callable[[], Hashable], build: Callable[[Hashable], T],
                 *, check_every: float = 2.0, background: bool = False,
                 fallback: Callable[[Exception], T | None] | None = None):
        self.name, self._stamp, self._build = name, stamp, build
        self.check_every, self.background, self._fallback = check_every, background, fallback
        self._lock = threading.Lock()
        self._value: object = _UNSET
        self._built_from: Hashable = _UNSET   # the stamp of the value in use
        self._refused: Hashable = _UNSET      # the last stamp whose build failed (never retried)
        self._checked = 0.0
        self._thread: threading.Thread | None = None

    def get(self) -> T:
        value = self._value
        if value is not _UNSET and time.monotonic() - self._checked < self.check_every:
            return value                                        # the usual case: no file look-up
        stamp = self._stamp()
        self._checked = time.monotonic()
        if value is not _UNSET and stamp in (self._built_from, self._refused):
            return value
        if value is not _UNSET and self.background:
            self._start_background(stamp)
            return value
        with self._lock:
            if self._value is not _UNSET and stamp in (self._built_from, self._refused):
                return self._value
            self._rebuild(stamp)
            return self._value

    def peek(self) -> T | None:
        """The value in use, without looking at the files (None before the first build)."""
        return None if self._value is _UNSET else self._value

    def set(self, value: T, stamp: Hashable) -> None:
        """Use `value` as if built from `stamp` (a value loaded from a snapshot, for instance)."""
        with self._lock:
            self._value, self._built_from, self._checked = value, stamp, time.monotonic()

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait for a background rebuild to finish; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _start_background(self, stamp: Hashable) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return                       # one rebuild at a time; a newer stamp is seen after it
            if stamp in (self._built_from, self._refused):
                return
            self._thread = threading.Thread(target=self._rebuild_locked, args=(stamp,),
                                             name=f"reload-{self.name}", daemon=True)
            self._thread.start()

    def _rebuild_locked(self, stamp: Hashable) -> None:
        started = time.perf_counter()
        try:
            value = self._build(stamp)
        except Exception as exc:  # noqa: BLE001 - refused content must never reach the caller
            self._refused = stamp
            log.error("%s: the changed content does not validate; keeping the previous version "
                      "(fix it and save again): %s", self.name, exc)
            return
        with self._lock:
            self._value, self._built_from = value, stamp
        log.info("%s: rebuilt in the background in %.1f s and swapped in", self.name,
                 time.perf_counter() - started)

    def _rebuild(self, stamp: Hashable) -> None:
        """Build in the caller's thread (lock held): the first value, or a cheap rebuild."""
        try:
            value = self._build(stamp)
        except Exception as exc:
            self._refused = stamp
            if self._value is not _UNSET:
                log.error("%s: the changed content does not validate; keeping the previous "
                          "version (fix it and save again): %s", self.name, exc)
                return
            value = self._fallback(exc) if self._fallback is not None else None
            if value is None:
                raise
        self._value, self._built_from = value, stamp


_files: dict[str, Reloading] = {}
_files_as_given: dict[tuple, Reloading] = {}  # (path as the caller gave it, parse) → its holder
_files_lock = threading.Lock()


def _file_stamp(path: Path) -> tuple[int, int]:
    st = path.stat()                      # OSError when the file is missing: the caller's error
    return st.st_mtime_ns, st.st_size


def file_value(path: str | os.PathLike, parse: Callable[[Path], T], check_every: float = 2.0) -> T:
    """parse(path), kept per process and per file, re-read when the file changes; a change that
    does not parse keeps the last good value (logged once). The first read's error is raised."""
    given = path
    holder = _files_as_given.get((given, parse))  # no Path built per call: this runs per message
    if holder is None:
        path = Path(given)
        key = f"{path}:{getattr(parse, '__qualname__', parse)}"
        with _files_lock:
            holder = _files.get(key)
            if holder is None:
                holder = _files[key] = Reloading(str(path), lambda: _file_stamp(path),
                                                 lambda _stamp: parse(path), check_every=check_every)
            if len(_files_as_given) > 1024:      # a caller passing new closures: stay bounded
                _files_as_given.clear()
            _files_as_given[given, parse] = holder
    return holder.get()


# ---------------------------------------------------------------------------- snapshots

def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def files_digest(paths: list[Path], root: Path | None = None) -> str:
    """A hash of the files' names and contents (missing files count as absent)."""
    parts: list[bytes | str] = []
    for path in sorted(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        parts += [str(path.relative_to(root)) if root and path.is_relative_to(root) else path.name, data]
    return digest(*parts)


def snapshot_path(directory: Path, name: str, key: str) -> Path:
    return Path(directory) / f"{name}-{key[:24]}.pickle"


def load_snapshot(directory: Path | None, name: str, key: str):
    """The value saved under `key`, or None (absent, unreadable or from other code)."""
    if directory is None:
        return None
    path = snapshot_path(directory, name, key)
    try:
        with open(path, "rb") as fh:
            saved_key, value = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is only a cache miss
        log.warning("ignoring unreadable snapshot %s: %s", path, exc)
        return None
    return value if saved_key == key else None


def latest_snapshot(directory: Path | None, name: str, accept: Callable[[object], bool] = lambda v: True):
    """The newest readable snapshot of `name` that `accept`s, or None: the last good content."""
    if directory is None or not Path(directory).is_dir():
        return None
    paths = sorted(Path(directory).glob(f"{name}-*.pickle"), key=_mtime, reverse=True)
    for path in paths:
        try:
            with open(path, "rb") as fh:
                _, value = pickle.load(fh)
        except Exception:  # noqa: BLE001
            continue
        if accept(value):
            return value
    return None


def save_snapshot(directory: Path | None, name: str, key: str, value, keep: int = 4) -> Path | None:
    """Pickle `value` under `key` (atomically: a reader never sees half a file); keep the newest
    few of its family (the name up to its first "-": snapshots by older code are pruned too)."""
    if directory is None:
        return None
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = snapshot_path(directory, name, key)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        family = name.split("-")[0]
        for old in sorted(directory.glob(f"{family}-*.pickle"), key=_mtime, reverse=True)[keep:]:
            old.unlink(missing_ok=True)
        return path
    except OSError as exc:
        log.warning("could not save the %s snapshot in %s: %s", name, directory, exc)
        return None


def build_once(directory: Path | None, name: str, key: str, build: Callable[[], T],
               timeout: float = 600.0) -> T:
    """The snapshot under `key`, or `build()` it and save it; one process builds at a time, the
    others wait for its snapshot instead of building the same thing."""
    found = load_snapshot(directory, name, key)
    if found is not None:
        return found
    if directory is None:
        return build()
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(Path(directory) / f".{name.split('-')[0]}.lock"), timeout=timeout)
        with lock:
            found = load_snapshot(directory, name, key)
            if found is not None:
                return found
            value = build()
            save_snapshot(directory, name, key, value)
            return value
    except (OSError, Timeout) as exc:
        log.warning("%s: building without the snapshot lock (%s)", name, exc)
        return build()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
