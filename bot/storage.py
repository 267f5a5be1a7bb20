"""Database engine set-up: SQLite in WAL mode with a busy timeout and write-locking transactions."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave under several threads and processes; other databases are left as they are.

    SQLite allows one writer at a time. A unit of work that will write (an inbound message, an
    outbox run) calls write_transaction() first, so its transaction starts with BEGIN IMMEDIATE:
    the write lock is taken up front and a second process waits (busy timeout) instead of failing
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
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "union_write_lock"


def write_transaction(session) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite; a no-op elsewhere,
    where row locks taken with SELECT … FOR UPDATE do the serialising)."""
    session = session() if callable(session) else session  # Flask-SQLAlchemy's scoped_session
    if not session.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True})
