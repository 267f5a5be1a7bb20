"""Database engine set-up and the write lock: SQLite in WAL mode, writers queued, writes taken late.

Two ways to write, both ending with a commit or a rollback:

- `write_transaction(session)` before anything else: the whole transaction holds the write lock
  (BEGIN IMMEDIATE on SQLite). The CLI, jobs, the outbox sender and the workbench use it.
- `connect(engine)` … `begin_writing(conn)` … `release(conn)`: the message path (bot.hot_path).
  Reads run before the write lock (on SQLite outside any transaction, each SELECT on its own),
  the reply is worked out, and only the writes take the lock. Whatever the writes depend on must be
  checked again inside them (the Dialog row's version). An ORM session on such a connection is
  marked `reading_first` until then, and refuses to write (`NeedsWriteLock`): a handler that needs
  more goes round again holding the lock from the start (`connect(engine, write=True)`).
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 15_000
WRITE_OPTION = "union_write_lock"  # connection option: BEGIN IMMEDIATE
READ_FIRST_OPTION = "union_read_first"  # connection option: no BEGIN (the writer's BEGIN comes later)
READ_FIRST = "union_read_first"  # Session.info key: the session may not write yet
WRITER_QUEUE = "union_writer_queue"  # Session.info / Connection.info key: the lock file descriptor held
_thread = threading.local()  # .queued: this thread holds a turn (a second session of it must not wait on itself)


class NeedsWriteLock(Exception):
    """A session marked reading_first tried to write (a flush, an UPDATE, …)."""


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave under several threads and processes; other databases are left as they are.

    SQLite allows one writer at a time. A transaction that will write starts with BEGIN IMMEDIATE
    (write_transaction, or begin_writing after reading first): the write lock is taken before the first
    write and a second process waits (in the writer queue, then the busy timeout) instead of failing
    half-way with "database is locked". Other transactions start deferred, so readers (the
    dashboard, tests) never hold the write lock. SQLAlchemy's documented recipe for pysqlite.
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
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(READ_FIRST_OPTION):  # reading first: each read on its own until begin_writing
            conn.exec_driver_sql("BEGIN")


def write_transaction(session) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite; a no-op elsewhere,
    where row locks taken with SELECT … FOR UPDATE do the serialising)."""
    session = _session(session)
    if session.in_transaction():
        return
    conn = session.connection(execution_options={READ_FIRST_OPTION: True})
    fd = _start_writing(conn)
    if fd is not None:
        session.info[WRITER_QUEUE] = fd  # released when the session's transaction ends


def connect(engine: Engine, write: bool = False) -> Connection:
    """A connection in a transaction for one message: a writer at once (`write`), or reading first
    until begin_writing(). The caller commits or rolls back, then calls release()."""
    conn = engine.connect().execution_options(**{READ_FIRST_OPTION: True})
    try:
        conn.begin()
        if write:
            begin_writing(conn)
    except BaseException:
        release(conn)
        conn.close()
        raise
    return conn


def begin_writing(conn: Connection) -> None:
    """From now on the connection writes: on SQLite, queue for the writer's turn, BEGIN IMMEDIATE."""
    fd = _start_writing(conn)
    if fd is not None:
        conn.info[WRITER_QUEUE] = fd


def release(conn: Connection) -> None:
    """After the connection's commit or rollback: give up the writer's turn, if it holds one."""
    _leave(conn.info.pop(WRITER_QUEUE, None))


def _start_writing(conn: Connection) -> int | None:
    """The connection is checked out first and the writer's turn taken after, always in this order:
    a writer holding the turn never waits for the pool while the pool's connections wait for it."""
    if conn.dialect.name != "sqlite":
        return None
    fd = _queue(conn.engine.url)
    dbapi = conn.dialect.loaded_dbapi
    try:
        # on the driver's connection: this runs for every message, and SQLAlchemy's execute around
        # a statement without parameters or results costs ten times the statement
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
    except dbapi.Error as exc:  # "database is locked" after the busy timeout, a full disk …: as SQLAlchemy raises it
        _leave(fd)
        raise sa_exc.DBAPIError.instance("BEGIN IMMEDIATE", (), exc, dbapi.Error) from exc
    except BaseException:
        _leave(fd)
        raise
    return fd


def reading_first(session) -> bool:
    """True while a session marked reading_first may not write yet."""
    return bool(_session(session).info.get(READ_FIRST))


def _session(session) -> Session:
    return session() if callable(session) else session  # Flask-SQLAlchemy's scoped_session


# -- the writer queue (SQLite files) ------------------------------------------------------------
def _queue(url) -> int | None:
    """On a SQLite file, writers first queue on an flock of `<database>-writer.lock`; the turn ends
    with the writer's transaction (commit, rollback or close). BEGIN IMMEDIATE still takes the
    write lock and still guarantees one writer at a time; the queue only changes how writers wait.
    SQLite's busy handler polls with sleeps that grow to 100 ms, so under load a waiting worker
    sleeps while the other one takes the lock again and again; a waiter on the queue is woken by
    the kernel when the lock is released (bench/README.md, "the writer queue"). Returns the file
    descriptor holding the turn, or None (no queue: another database, or this thread holds one)."""
    if url.database in (None, "", ":memory:") or str(url.database).startswith("file:") \
            or getattr(_thread, "queued", False):
        return None
    path = url.database + "-writer.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        log.warning("no writer queue (%s): waiting in SQLite's busy handler", path, exc_info=True)
        return None
    if not _wait_for_turn(fd):
        return None
    _thread.queued = True
    return fd


def _leave(fd: int | None) -> None:
    if fd is not None:
        _thread.queued = False
        os.close(fd)  # closing the descriptor releases the flock


def _wait_for_turn(fd: int) -> bool:
    """Take the flock on `fd`, waiting at most the busy timeout. True: the caller holds it and
    closes fd to release it. False (or an exception): fd is no longer the caller's, closed now or
    by the waiting thread once its flock is granted. A writer that never ends its transaction must
    not hang the others for ever: after the timeout we stop queueing and let SQLite's busy handler
    decide.

    flock has no timeout, so a contended wait blocks in a helper thread while this one waits on an
    Event with one (hand-written: filelock and the like poll instead of blocking)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except BaseException:
        os.close(fd)
        raise
    waiter = _Waiter(fd)
    try:
        granted = waiter.wait(SQLITE_BUSY_TIMEOUT_MS / 1000)
    except BaseException:
        waiter.abandon()
        raise
    if not granted:
        log.warning("writer queue wait exceeded %d ms; falling back to SQLite's busy handler", SQLITE_BUSY_TIMEOUT_MS)
    return granted


class _Waiter:
    """A blocking flock in a daemon thread. If the waiter gives up first, the thread closes fd as
    soon as its flock is granted, passing the turn on; otherwise the waiter owns fd."""

    def __init__(self, fd: int):
        self.fd, self.done, self.ok, self.abandoned = fd, threading.Event(), False, False
        self.lock = threading.Lock()
        threading.Thread(target=self._run, name="writer-queue", daemon=True).start()

    def _run(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            ok = True
        except OSError:
            log.exception("writer queue: flock failed")
            ok = False
        with self.lock:
            self.ok = ok and not self.abandoned
            if not self.ok:
                os.close(self.fd)
            self.done.set()

    def wait(self, timeout: float) -> bool:
        self.done.wait(timeout)
        with self.lock:
            if not self.done.is_set():
                self.abandoned = True
            return self.ok

    def abandon(self) -> None:
        with self.lock:
            if self.done.is_set():
                if self.ok:
                    os.close(self.fd)
            else:
                self.abandoned = True


# -- the session's hooks ------------------------------------------------------------------------
@event.listens_for(Session, "before_flush")
def _no_flush_before_writes(session, _context, _instances) -> None:
    if session.info.get(READ_FIRST):
        raise NeedsWriteLock("a flush while reading first")


@event.listens_for(Session, "do_orm_execute")
def _no_dml_before_writes(state) -> None:
    if state.session.info.get(READ_FIRST) and (state.is_insert or state.is_update or state.is_delete):
        raise NeedsWriteLock(f"{state.statement.__visit_name__} while reading first")


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction) -> None:
    """The writer's turn ends when its session's outermost transaction has committed or rolled back."""
    if transaction.parent is None:
        session.info.pop(READ_FIRST, None)
        _leave(session.info.pop(WRITER_QUEUE, None))
