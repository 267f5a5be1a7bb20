"""Human hand-off (转人工): who owns the conversation is the worker row's `owner` column.

Domain only: opening, adding to and closing escalations. What the worker reads is the caller's.
"""
from __future__ import annotations

from sqlalchemy import select

from bot import masking, outbox
from bot.clock import now
from bot.models import Escalation, Message

TRANSCRIPT_LENGTH = 20


def recent_transcript(session, worker) -> list[dict]:
    rows = session.scalars(select(Message).where(Message.worker_id == worker.id)
                           .order_by(Message.id.desc()).limit(TRANSCRIPT_LENGTH)).all()
    return [{"direction": m.direction, "kind": m.kind, "content": masking.mask(m.content),
             "at": m.created_at.isoformat() if m.created_at else None} for m in reversed(rows)]


def current(session, worker) -> Escalation | None:
    return session.scalars(select(Escalation).where(
        Escalation.worker_id == worker.id, Escalation.status == "open")).first()


def open_escalation(session, worker, reason: str, detail: str | None = None) -> Escalation:
    """Create an escalation (or reuse the open one) carrying the recent conversation."""
    escalation = current(session, worker)
    if escalation is not None:
        return escalation
    escalation = Escalation(worker_id=worker.id, reason=reason, detail=masking.mask(detail) if detail else None,
                            transcript=recent_transcript(session, worker))
    session.add(escalation)
    return escalation


def open(session, worker, reason: str, detail: str | None = None) -> Escalation:  # noqa: A001
    """Hand the conversation to staff; the worker's next messages go to the escalation."""
    escalation = open_escalation(session, worker, reason, detail)
    worker.owner = "staff"
    return escalation


def add_message(session, worker, text: str) -> Escalation:
    escalation = open_escalation(session, worker, "asked")
    escalation.transcript = [*escalation.transcript, {"direction": "in", "kind": "text",
                                                      "content": masking.mask(text), "at": now().isoformat()}]
    return escalation


def close(session, worker, by: str) -> list[Escalation]:
    """The worker ended the hand-off (结束人工): the bot answers again."""
    closed = list(session.scalars(select(Escalation).where(
        Escalation.worker_id == worker.id, Escalation.status == "open")))
    for escalation in closed:
        escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), by
    worker.owner = "bot"
    return closed


def close_by_staff(session, escalation: Escalation, staff_name: str, note: str = "") -> bool:
    """Staff finished: close it, give the conversation back to the bot and tell the worker (outbox).

    Returns False when the escalation was already closed (nothing is queued twice).
    """
    if escalation.status != "open":
        return False
    note = (note or "").strip() or "如需进一步帮助，请再联系我们。"
    escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), staff_name[:16]
    escalation.transcript = [*escalation.transcript, {"direction": "staff", "kind": "note", "content": note,
                                                      "by": staff_name, "at": now().isoformat()}]
    escalation.worker.owner = "bot"
    outbox.notify(session, escalation.worker_id, "handoff.closed", f"handoff-closed:{escalation.id}",
                  purpose="staff_reply", staff=staff_name, note=note)
    return True
