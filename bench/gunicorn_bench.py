"""gunicorn settings for bench/webhook.py: the project's own (gunicorn.conf.py), plus, when
BENCH_LOCK_LOG names a file prefix, a record of every message's writes in each worker.

For each message that writes: how long it waited for the writer's turn (storage.begin_writing) and
how long it then held the write lock, to the end of its transaction (storage.release, after the
commit or rollback). On PostgreSQL, where nothing is queued, the same span is the write phase
(row locks). Kept in memory and written to `<prefix>.<pid>.json` when the worker exits; the bench
keeps the records of its measured run. Only the bench uses this file.
"""
from __future__ import annotations

import json
import os
import runpy
import time
from pathlib import Path

_project = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
preload_app = _project["preload_app"]
on_starting = _project["on_starting"]
_records: list[tuple[float, float, float]] = []  # (wall time at the end, wait s, hold s)


def post_fork(server, worker):
    _project["post_fork"](server, worker)
    if os.environ.get("BENCH_LOCK_LOG"):
        _instrument()


def worker_exit(server, worker):
    prefix = os.environ.get("BENCH_LOCK_LOG")
    if prefix:
        Path(f"{prefix}.{os.getpid()}.json").write_text(json.dumps(_records))


def _instrument() -> None:
    import threading

    from bot import storage

    begin_writing, release = storage.begin_writing, storage.release
    state = threading.local()

    def timed_begin_writing(conn):
        started = time.perf_counter()
        begin_writing(conn)
        state.waited, state.holding = time.perf_counter() - started, time.perf_counter()

    def timed_release(conn):
        release(conn)
        held = getattr(state, "holding", None)
        if held is not None:
            _records.append((time.time(), state.waited, time.perf_counter() - held))
            state.holding = None

    storage.begin_writing, storage.release = timed_begin_writing, timed_release
