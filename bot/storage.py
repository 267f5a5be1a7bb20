"""Database engine set-up: SQLite in WAL mode with a busy timeout and write-locking transactions."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


def configure_engine(engine: Engine) -> None:
    """Make SQLite behave under several threads and processes; other databases are left as they are.

    SQLite only allows one writer at a time. Every transaction here writes (the inbound message
    row at least), so it starts with BEGIN IMMEDIATE: the write lock is taken up front and a
    second process waits (busy timeout) instead of failing half-way with "database is locked".
    This is SQLAlchemy's documented recipe for pysqlite's transaction handling.
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
