"""The message path's reads and writes, on prebuilt SQLAlchemy Core statements (the ORM everywhere else).

A `Unit` is one message's transaction: a Core connection (one pool checkout), the log rows of the
message, and an ORM session joined to the same transaction only when a handler asks for one
(a flow's service, a hand-off …): most messages never make one. One SELECT reads what a message
needs before the write lock: the worker's row, their Dialog row and the stored reply of this
delivery's dedupe key (a retry replays it). After the reply is worked out, the writes are the log
rows (first: their unique dedupe key makes a concurrent duplicate fail there), the Dialog row only
if its version is still the one read, and the worker's last-seen minute. Statements are built once:
SQLAlchemy memoizes a statement's cache key, so a statement built per message costs about twice
as much (bench/README.md).

The worker is read as the three values the message path needs (id, owner, last seen); handlers
and services that need the ORM Worker load it through the session on first use (`worker_object`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot import message_log, storage
from bot.clock import aware, now
from bot.models import Dialog, Message, Outbox, Worker

LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # Worker.last_seen_at is kept to the minute

_W, _D, _M, _O = Worker.__table__, Dialog.__table__, Message.__table__, Outbox.__table__
WORKER_COLUMNS = ("id", "owner", "last_seen_at")
_N_WORKER = len(WORKER_COLUMNS)
DIALOG_COLUMNS = ("id", "flow", "state", "slots", "context", "failures", "updated_at", "version")

# coalesce: a stored delivery whose reply was nothing ("success") reads as "", not as no row.
_STORED = select(func.coalesce(_M.c.reply_xml, "")).where(_M.c.dedupe_key == bindparam("key"))
STORED_REPLY = _STORED
# The worker's inbound messages since `since` (flood control; index ix_message_worker_recent).
_RECENT = (select(func.count()).select_from(_M)
           .where(_M.c.worker_id == _W.c.id, _M.c.direction == "in", _M.c.created_at >= bindparam("since"))
           .correlate(_W).scalar_subquery())
# Whether messages wait for the worker's next message (outbox parked; index ix_outbox_worker_status).
_PARKED = (select(func.count()).select_from(_O)
           .where(_O.c.worker_id == _W.c.id, _O.c.status == "parked").correlate(_W).scalar_subquery())
SNAPSHOT = (select(*(_W.c[k] for k in WORKER_COLUMNS), *(_D.c[k].label(f"dialog_{k}") for k in DIALOG_COLUMNS),
                   _PARKED.label("parked"), _RECENT.label("recent"), _STORED.scalar_subquery().label("stored"))
            .select_from(_W.outerjoin(_D, _D.c.worker_id == _W.c.id))
            .where(_W.c.openid == bindparam("openid")))
# PostgreSQL, when the message holds its locks from the start: the worker's row, taken before the
# snapshot so that the snapshot's own statement sees what the previous holder committed.
LOCK_WORKER = select(_W.c.id).where(_W.c.openid == bindparam("openid")).with_for_update()
INSERT_WORKER = _W.insert().values(openid=bindparam("openid"), subscribed=True, owner="bot",
                                   reminders_off=False, created_at=bindparam("at"), last_seen_at=bindparam("at"))
TOUCH_WORKER = update(_W).where(_W.c.id == bindparam("b_id")).values(last_seen_at=bindparam("b_seen"))
_DIALOG_VALUES = {k: bindparam(f"v_{k}") for k in ("flow", "state", "slots", "context", "failures", "updated_at")}
UPDATE_DIALOG = (update(_D).where(_D.c.id == bindparam("b_id"), _D.c.version == bindparam("b_version"))
                 .values(**_DIALOG_VALUES, version=bindparam("v_version")))
INSERT_DIALOG = _D.insert().values(worker_id=bindparam("v_worker_id"), **_DIALOG_VALUES, version=1)
READ_DIALOG = select(*(_D.c[k].label(f"dialog_{k}") for k in DIALOG_COLUMNS)).where(
    _D.c.worker_id == bindparam("worker_id"))


@dataclass
class DialogRow:
    """A worker's Dialog row as plain values (bot.conversation is the one that changes them);
    the fields after worker_id are DIALOG_COLUMNS, in order."""

    worker_id: int
    id: int | None = None  # None: no row yet (INSERT on save)
    flow: str | None = None
    state: str | None = None
    slots: dict | None = None
    context: dict | None = None
    failures: int = 0
    updated_at: datetime | None = None
    version: int = 0

    @classmethod
    def of(cls, worker_id: int, values) -> DialogRow | None:
        """From the DIALOG_COLUMNS values in order (None when the row's id is None: no row)."""
        return None if values[0] is None else cls(worker_id, *values)


@dataclass
class Snapshot:
    """What one SELECT found: the worker's row (None: a first message), their Dialog row (None: no
    row yet), the reply stored for this delivery (None: not handled before) and how many messages
    the worker sent in the flood-control window, and how many outbox messages wait parked for them."""

    worker: dict | None
    dialog: DialogRow | None
    stored: str | None
    recent: int = 0
    parked: int = 0


class Conflict(Exception):
    """A row changed between the read and the write (another message of the same worker won)."""


class Unit:
    """One message's transaction (see the module docstring). `begin(engine, write)` opens one on a
    connection of its own; `within(session)` goes on in a session already in a transaction (a test's
    or a tool's), as a writer."""

    def __init__(self, conn, session: Session | None = None, reading_first: bool = False, owned: bool = True):
        self.conn, self._session, self.reading_first, self.owned = conn, session, reading_first, owned
        self._rows: list[dict] = []  # logged before any session exists
        self._inserts: list[tuple] = []  # (prebuilt INSERT, values) written with the log rows
        self.closed = False

    @classmethod
    def begin(cls, engine, write: bool = False) -> Unit:
        return cls(storage.connect(engine, write), reading_first=not write)

    @classmethod
    def within(cls, session) -> Unit:
        session = session() if callable(session) else session  # Flask-SQLAlchemy's scoped_session
        return cls(session.connection(), session, owned=False)

    @property
    def session(self) -> Session:
        """The ORM session on this transaction, made on first use; it refuses to write while the
        unit reads first (storage.NeedsWriteLock)."""
        if self._session is None:
            session = Session(bind=self.conn, join_transaction_mode="rollback_only")
            if self.reading_first:
                session.info[storage.READ_FIRST] = True
            message_log.adopt(session, self._rows)
            self._rows = []
            self._session = session
        return self._session

    @property
    def session_made(self) -> Session | None:
        return self._session

    def log(self, worker_id: int, direction: str, kind: str, content: str, dedupe_key: str | None = None) -> dict:
        """A log row of this message, written with the others (message_log.record once a session exists)."""
        if self._session is not None:
            return message_log.record(self._session, worker_id, direction, kind, content, dedupe_key)
        row = message_log.row(worker_id, direction, kind, content, dedupe_key)
        self._rows.append(row)
        return row

    def insert_later(self, statement, values: dict) -> None:
        """A row of this message's own (a routing decision), inserted with the log rows: a blind
        insert that needs no ORM session and no lock while the message reads."""
        self._inserts.append((statement, values))

    def pending(self, row: dict) -> bool:
        """The row is not written yet (its reply can still be set in it)."""
        if self._session is not None:
            return message_log.pending(self._session, row)
        return any(r is row for r in self._rows)

    def begin_writing(self) -> None:
        """The write lock from here on (SQLite: the writer queue, BEGIN IMMEDIATE)."""
        if self.reading_first:
            self.reading_first = False
            if self._session is not None:
                self._session.info.pop(storage.READ_FIRST, None)
            storage.begin_writing(self.conn)

    def write_log(self) -> None:
        """Insert the log rows now (the first write: a duplicate delivery fails here)."""
        if self._session is not None:
            message_log.write(self._session)
        else:
            message_log.insert(self.conn, self._rows)
            self._rows = []
        for statement, values in self._inserts:
            self.conn.execute(statement, values)
        self._inserts = []

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()  # flush and the log rows left; joined: the connection commits below
        if self.owned:
            self.conn.commit()

    def close(self) -> None:
        """End the unit: roll back what was not committed, give the connection back (once)."""
        if self.closed:
            return
        self.closed = True
        if not self.owned:
            if self._session.in_transaction():
                self._session.rollback()
            return
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        finally:
            storage.release(self.conn)
            if self._session is not None:
                self._session.close()
            self.conn.close()


def read(conn, openid: str, key: str, lock: bool = False, window: int = 60) -> Snapshot:
    """The message's one read; `window`: seconds of the worker's messages to count."""
    if lock and conn.dialect.name != "sqlite":  # SQLite: the write lock already serialises everything
        conn.execute(LOCK_WORKER, {"openid": openid})
    row = conn.execute(SNAPSHOT, {"openid": openid, "key": key, "since": now() - timedelta(seconds=window)}).first()
    if row is None:
        return Snapshot(None, None, None)
    worker = dict(zip(WORKER_COLUMNS, row))
    return Snapshot(worker, DialogRow.of(worker["id"], row[_N_WORKER:-3]), row[-1], row[-2], row[-3])


def stored_reply(conn, key: str) -> str | None:
    return conn.execute(STORED_REPLY, {"key": key}).scalar()


def read_dialog(conn, worker_id: int) -> DialogRow | None:
    row = conn.execute(READ_DIALOG, {"worker_id": worker_id}).first()
    return DialogRow.of(worker_id, row) if row is not None else None


def add_worker(conn, openid: str) -> dict:
    """A first message: the worker's row (a concurrent first message of the same worker makes this
    fail on the unique OpenID: the caller goes round again and finds the row)."""
    at = now()
    result = conn.execute(INSERT_WORKER, {"openid": openid, "at": at})
    return {"id": result.inserted_primary_key[0], "owner": "bot", "last_seen_at": at}


def worker_object(session, values: dict) -> Worker:
    """The ORM Worker of a row read here (one query, when a handler or service needs it), with the
    last-seen time this message will write."""
    worker = session.get(Worker, values["id"])
    set_committed_value(worker, "last_seen_at", values["last_seen_at"])
    return worker


def seen(values: dict) -> datetime | None:
    """The new last-seen time when the stored one is more than a minute old (else None), also put
    in the row read: an UPDATE of the worker row for every message would only move it by seconds."""
    t, last = now(), aware(values["last_seen_at"])
    if last is not None and timedelta(0) <= t - last < LAST_SEEN_RESOLUTION:
        return None
    values["last_seen_at"] = t  # written by touch(), never by the ORM's flush
    return t


def touch(conn, worker_id: int, at: datetime) -> None:
    conn.execute(TOUCH_WORKER, {"b_id": worker_id, "b_seen": at})


def save_dialog(conn, row: DialogRow) -> None:
    """Insert the row, or update it if its version is still the one read (Conflict otherwise)."""
    values = {"v_flow": row.flow, "v_state": row.state, "v_slots": row.slots or {}, "v_context": row.context or {},
              "v_failures": row.failures, "v_updated_at": row.updated_at}
    if row.id is None:
        result = conn.execute(INSERT_DIALOG, {**values, "v_worker_id": row.worker_id})
        row.id, row.version = result.inserted_primary_key[0], 1
        return
    result = conn.execute(UPDATE_DIALOG, {**values, "b_id": row.id, "b_version": row.version,
                                          "v_version": row.version + 1})
    if result.rowcount != 1:
        raise Conflict(f"dialog {row.id} is no longer at version {row.version}")
    row.version += 1
