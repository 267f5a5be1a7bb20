"""One message's view of a worker's conversation: session, worker, settings, the Dialog row, its Context.

The Dialog row (flow, state, slots, context) comes as plain values (bot.hot_path.DialogRow), read
with the worker's row before the write lock; it is *used* on first access only, so events that
never converse (unsubscribe, a delivery receipt) neither write nor create it. `save()` settles
what changed and `write()` stores it, if its version is still the one read (else
bot.hot_path.Conflict: another message of this worker came first, and this one goes round again).
An idle flow expires here; what the worker is told about it is up to the dialog.
"""
from __future__ import annotations

from datetime import timedelta

from bot import hot_path
from bot.clock import aware, now
from bot.context import Context
from bot.hot_path import DialogRow

UNREAD = object()  # Conversation(dialog=UNREAD): read the row on first use


class Conversation:
    """`unit`: the message's bot.hot_path.Unit (or an ORM session, for tools and tests). `worker`: the
    ORM Worker, or the worker's row as read (a mapping; the ORM object is then made on first use of
    `.worker`, which most messages never need: `worker_id` and `owner` suffice)."""

    def __init__(self, unit, worker, config, prepared=None, dialog: DialogRow | None | object = UNREAD):
        self.unit = unit if isinstance(unit, hot_path.Unit) else hot_path.Unit.within(unit)
        self.config = config
        if isinstance(worker, dict):
            self._worker, self._worker_row = None, worker
        else:
            self._worker, self._worker_row = worker, None
        # What the message's text alone decides, worked out before the write lock (answers.prepare).
        self.prepared = prepared
        self.expired_flow: str | None = None  # a flow that timed out before this message
        self._read = dialog  # the row as read (None: none yet), or UNREAD
        self._row: DialogRow | None = None
        self._context: Context | None = None

    @property
    def session(self):
        """The ORM session for services and flows (made on first use; see bot.hot_path.Unit)."""
        return self.unit.session

    # -- the worker ---------------------------------------------------------------------------
    @property
    def worker(self):
        if self._worker is None:
            self._worker = hot_path.worker_object(self.session, self._worker_row)
        return self._worker

    @property
    def worker_made(self):
        """The ORM Worker if something asked for it, else None."""
        return self._worker

    @property
    def worker_id(self) -> int:
        return self._worker.id if self._worker is not None else self._worker_row["id"]

    @property
    def owner(self) -> str:
        """Who answers the worker now: "bot", or "staff" during a hand-off."""
        return self._worker.owner if self._worker is not None else self._worker_row["owner"]

    # -- the row -----------------------------------------------------------------------------
    @property
    def row(self) -> DialogRow:
        if self._row is None:
            read = self._read
            if read is UNREAD:
                read = hot_path.read_dialog(self.unit.conn, self.worker_id)
            self._row = read if read is not None else DialogRow(self.worker_id, slots={}, context={})
            self._expire()
        return self._row

    @property
    def used(self) -> bool:
        """The message read or changed the conversation: its row is written with the message."""
        return self._row is not None

    @property
    def context(self) -> Context:
        if self._context is None:
            self._context = Context.load(self.row.context)
        return self._context

    def _expire(self) -> None:
        row = self._row
        timeout = timedelta(minutes=int(self.config.get("DIALOG_TIMEOUT_MINUTES", 30)))
        if row.updated_at is None or now() - aware(row.updated_at) <= timeout:
            return
        self.expired_flow = row.flow
        self.end_flow()
        context = self.context
        context.clear()
        context.paused, context.suspended = False, None

    def save(self) -> None:
        """Settle the context (only when it changed) and mark the conversation active."""
        if self._row is None:
            return
        if self._context is not None:
            dumped = self._context.dump()
            if dumped != (self._row.context or {}):
                self._row.context = dumped
        self._row.updated_at = now()

    def write(self) -> None:
        """Store the row saved (nothing if the message never used it); bot.hot_path.Conflict if it
        changed since it was read."""
        if self._row is not None:
            hot_path.save_dialog(self.unit.conn, self._row)

    # -- the flow in progress ----------------------------------------------------------------
    @property
    def flow_name(self) -> str | None:
        return self.row.flow

    @property
    def state(self) -> str | None:
        return self.row.state

    @property
    def slots(self) -> dict:
        return dict(self.row.slots or {})

    @property
    def in_flow(self) -> bool:
        """A flow is waiting for the worker's answer (not paused)."""
        return self.row.flow is not None and not self.context.paused

    def set_flow(self, name: str, state: str, slots: dict, failures: int = 0) -> None:
        row = self.row
        row.flow, row.state, row.slots, row.failures = name, state, dict(slots), failures
        self.context.resume()

    def end_flow(self) -> None:
        row = self.row
        row.flow = row.state = None
        row.slots, row.failures = {}, 0
        if self._context is not None or row.context:
            self.context.resume()
