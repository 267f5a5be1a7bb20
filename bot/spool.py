"""The spool: WeChat deliveries kept in an append-only file while the database cannot take them.

When storing a message fails (the disk is full, the database file is missing, the write lock is
held past the busy timeout, PostgreSQL is down), the webhook appends the delivery (its parsed
fields and when it arrived) here as one JSON line, flushed and fsynced before WeChat gets its
answer. `drain` hands the kept deliveries back, oldest first, once storage works again: the
webhook then handles each like any other message (its unique dedupe key makes a delivery kept
twice, or a retry WeChat sent meanwhile, count once) and its answer goes through the outbox.

Draining takes the spool aside (a rename) under an flock, so one process drains at a time and
deliveries kept meanwhile start a new file; what is not handled goes back into the spool, and a
file taken aside by a drain that crashed is the next drain's first. A full disk must not stop the spool beside
the database: `ready` keeps a reserve file of RESERVE_BYTES next to it, given up the moment an
append finds no space. Hand-written: a line-per-record file with fsync is all this needs, and it
must work exactly when the database does not.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)
DRAINING = ".draining."  # <spool>.draining.<ns>: a file taken aside to be handled
RESERVE = ".reserve"  # <spool>.reserve: space kept free for the spool on a full disk
RESERVE_BYTES = 1 << 20  # about a thousand deliveries
_reserved: set[Path] = set()  # spools whose reserve this process has made sure of


def path_for(config: dict, instance_path: str) -> Path:
    """SPOOL_FILE, else beside a SQLite database file (`<file>-spool.jsonl`), else in the instance folder."""
    if config.get("SPOOL_FILE"):
        return Path(config["SPOOL_FILE"])
    url = str(config.get("DATABASE_URL") or "")
    if url.startswith("sqlite:///") and ":memory:" not in url and "mode=memory" not in url:
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0] + "-spool.jsonl")
    return Path(instance_path) / "wechat-spool.jsonl"


def keep(path: Path, record: dict) -> bool:
    """Append one delivery and fsync it; False (logged) when the file cannot be written. On a full
    disk the reserve is given up and the append tried again."""
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        _append(path, line)
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and _give_up_reserve(path):
            try:
                _append(path, line)
                return True
            except OSError:
                pass
        log.exception("could not write the spool %s", path)
        return False


def ready(path: Path) -> bool:
    """Storage works: make sure the reserve exists (once per process, or again after it was used)
    and say whether deliveries wait in the spool (cheap: a few stats, no read)."""
    if path not in _reserved:
        reserve = path.with_name(path.name + RESERVE)
        with contextlib.suppress(OSError):
            if not reserve.exists():
                fd = os.open(reserve, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    os.posix_fallocate(fd, 0, RESERVE_BYTES)
                finally:
                    os.close(fd)
            _reserved.add(path)
    return pending(path)


def _give_up_reserve(path: Path) -> bool:
    _reserved.discard(path)
    try:
        path.with_name(path.name + RESERVE).unlink()
    except OSError:
        return False
    log.warning("the disk of the spool %s is full: its reserve was given up to keep deliveries", path)
    return True


def _append(path: Path, line: bytes) -> None:
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        written = os.write(fd, line)  # one write of one line: O_APPEND keeps writers apart
        if written != len(line):
            raise OSError(f"short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new file's name must survive a crash too
        _fsync_dir(path.parent)


def pending(path: Path) -> bool:
    """Are deliveries waiting (one stat; a file left by a drain that crashed is the tick's)?"""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def drain(path: Path, handle: Callable[[dict], bool], limit: int | None = None) -> dict[str, int]:
    """Give each kept delivery to `handle` (True: it is stored now). Stops at the first False (storage
    is still down) or after `limit` deliveries; returns counts. Another process draining: nothing."""
    counts = {"handled": 0, "unreadable": 0, "left": 0}
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        log.exception("cannot open %s", lock_path)
        return counts
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return counts  # another process is draining
        files = sorted(path.parent.glob(path.name + DRAINING + "*"))
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > 0:
                taken = path.with_name(f"{path.name}{DRAINING}{time.time_ns()}")
                os.rename(path, taken)
                files.append(taken)
        for file in files:
            records = _records(file, counts)
            done = 0
            for record in records:
                if limit is not None and counts["handled"] >= limit:
                    break
                if not handle(record):
                    break
                done += 1
                counts["handled"] += 1
            if done < len(records):
                counts["left"] += len(records) - done
                for record in records[done:]:  # back into the spool, drained later (a crash here: twice, harmless)
                    if not keep(path, record):
                        return counts  # the taken file stays: the next drain starts with it
                file.unlink()
                return counts
            file.unlink()
        return counts
    finally:
        os.close(lock_fd)  # releases the flock


def _records(file: Path, counts: dict[str, int]) -> list[dict]:
    records = []
    for number, raw in enumerate(file.read_bytes().splitlines(), 1):
        try:
            records.append(json.loads(raw))
        except ValueError:  # a line cut short by a crash mid-write: nothing to hand back
            counts["unreadable"] += 1
            log.warning("spool %s line %d is unreadable; skipped", file, number)
    return records


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
