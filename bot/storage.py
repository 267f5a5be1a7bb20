"""Database engine set-up: SQLite in WAL mode with a busy timeout and write-locking transactions."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 15_000


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave under several threads and processes; other databases are left as they are.

    SQLite allows one writer at a time. A unit of work that will write (an inbound message, an
    outbox run) calls write_transaction() first, so its transaction starts with BEGIN IMMEDIATE:
    the write lock is taken up front and a second process waits (in the writer queue, see
    write_transaction, then the busy timeout) instead of failing half-way with "database is locked".
    Other transactions start deferred, so readers (the dashboard, tests) never hold the write lock.
    SQLAlchemy's documented recipe for pysqlite.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below rule
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Overwritten values are zeroed, not left in free space: an ID number masked in the message
        # log within its transaction never reaches the file (on by default only in some builds).
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


log = logging.getLogger(__name__)
WRITE_OPTION = "union_write_lock"
WRITER_QUEUE = "union_writer_queue"  # Session.info key: the lock file descriptor this session holds
_thread = threading.local()  # .queued: this thread holds a turn (a second session of it must not wait on itself)


def write_transaction(session) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite; a no-op elsewhere,
    where row locks taken with SELECT … FOR UPDATE do the serialising).

    On a SQLite file, writers first queue on an flock of `<database>-writer.lock`; the turn ends with
    the session's transaction (commit, rollback or close). BEGIN IMMEDIATE still takes the write
    lock and still guarantees one writer at a time; the queue only changes how writers wait. SQLite's
    busy handler polls with sleeps that grow to 100 ms, so under load a waiting worker sleeps while
    the other one takes the lock again and again; a waiter on the queue retries every 0.2 ms
    (_wait_for_turn), so it gets its turn within about that long of the lock being released.
    """
    session = session() if callable(session) else session  # Flask-SQLAlchemy's scoped_session
    if session.in_transaction():
        return
    path = _queue_path(session)
    if path and not getattr(_thread, "queued", False):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            log.warning("no writer queue (%s): waiting in SQLite's busy handler", path, exc_info=True)
            fd = None
        if fd is not None and _wait_for_turn(fd):
            session.info[WRITER_QUEUE] = fd
            _thread.queued = True
        elif fd is not None:
            os.close(fd)
    try:
        session.connection(execution_options={WRITE_OPTION: True})
    except BaseException:
        if not session.in_transaction():
            _leave_queue(session)
        raise


def _wait_for_turn(fd: int) -> bool:
    """flock with a deadline (hand-written: flock has no timeout). A writer that never ends its
    transaction must not hang the others for ever: after the busy timeout we stop queueing and
    let SQLite's busy handler decide, as without the queue."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                log.warning("writer queue wait exceeded %d ms; falling back to SQLite's busy handler",
                            SQLITE_BUSY_TIMEOUT_MS)
                return False
            time.sleep(0.0002)
        except BaseException:
            os.close(fd)
            raise


def _queue_path(session) -> str | None:
    url = session.get_bind().url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or \
            str(url.database).startswith("file:"):
        return None
    return url.database + "-writer.lock"


def _leave_queue(session) -> None:
    fd = session.info.pop(WRITER_QUEUE, None)
    if fd is not None:
        _thread.queued = False
        os.close(fd)  # closing the descriptor releases the flock


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction) -> None:
    """The writer's turn ends when its session's outermost transaction has committed or rolled back."""
    if transaction.parent is None and WRITER_QUEUE in session.info:
        _leave_queue(session)
