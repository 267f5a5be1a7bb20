"""退订提醒 / 恢复提醒: whether a worker gets scheduled reminders, and who does.

The conversation layer maps the phrases to `stop` / `resume` and words the reply from the result.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot import audit
from bot.models import Outbox, Worker

CANCELLED_NOTE = "worker stopped reminders (退订提醒) before it was sent"


@dataclass(frozen=True)
class Change:
    """What `stop` / `resume` did: was it already so, and how many queued reminders were withdrawn."""

    already: bool
    cancelled: int = 0


def stop(session, worker: Worker) -> Change:
    """Turn the worker's reminders off, and withdraw the reminders still waiting in the outbox
    (held until the end of quiet hours, or parked for the worker's next message), so nothing
    arrives after 退订提醒."""
    already = bool(worker.reminders_off)
    worker.reminders_off = True
    cancelled = session.execute(
        update(Outbox).where(Outbox.worker_id == worker.id, Outbox.purpose == "reminder",
                            Outbox.status.in_(("pending", "parked")))
        .values(status="skipped", last_error=CANCELLED_NOTE)).rowcount
    if not already or cancelled:
        audit.record(session, f"worker:{worker.id}", "reminders.stop", "worker", worker.id, cancelled=cancelled)
    return Change(already=already, cancelled=cancelled)


def resume(session, worker: Worker) -> Change:
    """Turn reminders back on (the next scheduled ones arrive again; withdrawn ones stay withdrawn)."""
    already = not worker.reminders_off
    worker.reminders_off = False
    if not already:
        audit.record(session, f"worker:{worker.id}", "reminders.resume", "worker", worker.id)
    return Change(already=already)


def receivers(session, worker_ids) -> set[int]:
    """Those of `worker_ids` who get reminders: still following the account and not opted out."""
    ids = list(set(worker_ids))
    found: set[int] = set()
    for i in range(0, len(ids), 500):  # stay under every database's bound-parameter limit
        found.update(session.scalars(select(Worker.id).where(
            Worker.id.in_(ids[i:i + 500]), Worker.subscribed.is_(True), Worker.reminders_off.is_(False))))
    return found
