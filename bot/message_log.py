"""The conversation log (Message rows), written in one INSERT per transaction.

Every webhook call logs two rows (the worker's message, the bot's reply). Added as ORM objects they
cost the unit of work about 0.2 ms per message, all of it while the SQLite write lock is held;
collected here and inserted with one executemany they cost about a fifth of that
(bench/webhook.py --profile). Rows are kept in `session.info` until:

- the transaction commits (`before_commit`), or
- an ORM query that reads the message table runs (`do_orm_execute`), so a query sees them just as
  autoflush shows ORM objects: the hand-off transcript and ID masking read the current message
  (in a session reading before its writes, bot.storage.read_first, that query raises
  NeedsWriteLock: writing needs the lock);
- the transaction rolls back: they are dropped with it.

The rows are plain dicts; a caller may change one (the inbound row's reply_xml) until it is written:
`pending(session, row)` says whether it still can.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.clock import now
from bot.masking import mask
from bot.models import Message
from bot.storage import NeedsWriteLock, reading_first

PENDING = "message_log.pending"
COLUMNS = ("worker_id", "direction", "kind", "content", "dedupe_key", "reply_xml")
INSERT = Message.__table__.insert()


def row(worker_id: int, direction: str, kind: str, content: str, dedupe_key: str | None = None,
        reply_xml: str | None = None) -> dict:
    """One log row (a dict), personal numbers masked."""
    return {"worker_id": worker_id, "direction": direction, "kind": kind, "content": mask(content or "")[:4000],
            "dedupe_key": dedupe_key, "reply_xml": reply_xml, "created_at": now()}


def record(session, worker_id: int, direction: str, kind: str, content: str,
           dedupe_key: str | None = None, reply_xml: str | None = None) -> dict:
    """Log one message, personal numbers masked; returns the row (a dict) written with this transaction."""
    logged = row(worker_id, direction, kind, content, dedupe_key, reply_xml)
    _session(session).info.setdefault(PENDING, []).append(logged)
    return logged


def adopt(session, rows: list[dict]) -> None:
    """Rows logged before the session existed (bot.hot_path.Unit) become its own, written as above."""
    if rows:
        _session(session).info.setdefault(PENDING, []).extend(rows)


def insert(conn, rows: list[dict]) -> None:
    """Insert rows on a Core connection (one executemany)."""
    if rows:
        conn.execute(INSERT, rows)


def pending(session, row: dict) -> bool:
    return any(r is row for r in _session(session).info.get(PENDING, ()))


def write(session) -> None:
    """Insert the rows logged so far (one executemany)."""
    session = _session(session)
    if PENDING in session.info and reading_first(session):
        raise NeedsWriteLock("the message log is written under the write lock")
    rows = session.info.pop(PENDING, None)
    if rows:
        session.connection().execute(INSERT, rows)


def _session(session) -> Session:
    return session() if callable(session) else session  # Flask-SQLAlchemy's scoped_session


@event.listens_for(Session, "before_commit")
def _before_commit(session) -> None:
    write(session)


@event.listens_for(Session, "do_orm_execute")
def _before_query(state) -> None:
    if PENDING in state.session.info and any(m.class_ is Message for m in state.all_mappers):
        write(state.session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # committed (already written) or rolled back: nothing is left over
        session.info.pop(PENDING, None)
