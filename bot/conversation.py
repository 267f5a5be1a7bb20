"""One message's view of a worker's conversation: session, worker, settings, the Dialog row, its Context.

The Dialog row (flow, state, slots, context) is loaded and locked on first use, so events that
never converse (unsubscribe, a delivery receipt) neither lock nor create it. An idle flow expires
here; what the worker is told about it is up to the dialog.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select

from bot.clock import aware, now
from bot.context import Context
from bot.models import Dialog

# Built once (SQLAlchemy memoizes its cache key); loading the row is on every message's path.
DIALOG_FOR_UPDATE = select(Dialog).where(Dialog.worker_id == bindparam("worker_id")).with_for_update()


class Conversation:
    def __init__(self, session, worker, config, prepared=None):
        self.session, self.worker, self.config = session, worker, config
        # What the message's text alone decides, worked out before the write lock (answers.prepare).
        self.prepared = prepared
        self.expired_flow: str | None = None  # a flow that timed out before this message
        self._row: Dialog | None = None
        self._context: Context | None = None

    # -- the row -----------------------------------------------------------------------------
    @property
    def row(self) -> Dialog:
        if self._row is None:
            row = self.session.scalars(DIALOG_FOR_UPDATE, {"worker_id": self.worker.id}).first()
            if row is None:
                row = Dialog(worker_id=self.worker.id, slots={}, context={}, failures=0)
                self.session.add(row)
            self._row = row
            self._expire()
        return self._row

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
        """Write the context back (only when it changed) and mark the conversation active."""
        if self._row is None:
            return
        if self._context is not None:
            dumped = self._context.dump()
            if dumped != (self._row.context or {}):
                self._row.context = dumped
        self._row.updated_at = now()

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
