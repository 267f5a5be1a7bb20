"""Human handoff (转人工): who owns the conversation is the worker row's `owner` column."""
from __future__ import annotations

from sqlalchemy import select

from bot import texts
from bot.clock import now
from bot.models import Escalation, Message

TRANSCRIPT_LENGTH = 20


def recent_transcript(session, worker) -> list[dict]:
    rows = session.scalars(select(Message).where(Message.worker_id == worker.id)
                           .order_by(Message.id.desc()).limit(TRANSCRIPT_LENGTH)).all()
    return [{"direction": m.direction, "kind": m.kind, "content": m.content,
             "at": m.created_at.isoformat() if m.created_at else None} for m in reversed(rows)]


def open_escalation(session, worker, reason: str, detail: str | None = None) -> Escalation:
    """Create an escalation (or reuse the open one) carrying the recent conversation."""
    current = session.scalars(select(Escalation).where(
        Escalation.worker_id == worker.id, Escalation.status == "open")).first()
    if current is not None:
        return current
    escalation = Escalation(worker_id=worker.id, reason=reason, detail=detail,
                            transcript=recent_transcript(session, worker))
    session.add(escalation)
    return escalation


def open(session, worker, reason: str, office_hours: str = "", detail: str | None = None) -> str:  # noqa: A001
    """Hand the conversation to staff; the worker's next messages go to the escalation."""
    open_escalation(session, worker, reason, detail)
    worker.owner = "staff"
    return texts.HANDOFF_OPENED.format(office_hours=office_hours or "工作时间")


def add_message(session, worker, text: str) -> None:
    escalation = open_escalation(session, worker, "asked")
    escalation.transcript = [*escalation.transcript,
                             {"direction": "in", "kind": "text", "content": text, "at": now().isoformat()}]


def close(session, worker, by: str) -> None:
    for escalation in session.scalars(select(Escalation).where(
            Escalation.worker_id == worker.id, Escalation.status == "open")):
        escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), by
    worker.owner = "bot"


def close_by_staff(session, escalation: Escalation, staff_name: str, note: str = "") -> bool:
    """Staff finished: close it, give the conversation back to the bot and tell the worker (outbox).

    Returns False when the escalation was already closed (nothing is queued twice).
    """
    from bot import outbox

    if escalation.status != "open":
        return False
    note = (note or "").strip() or "如需进一步帮助，请再联系我们。"
    escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), staff_name[:16]
    escalation.transcript = [*escalation.transcript, {"direction": "staff", "kind": "note", "content": note,
                                                      "by": staff_name, "at": now().isoformat()}]
    worker = escalation.worker
    worker.owner = "bot"
    outbox.queue(session, worker.id, texts.HANDOFF_CLOSED_BY_STAFF.format(staff=staff_name, note=note),
                 dedupe_key=f"handoff-closed:{escalation.id}", purpose="staff_reply")
    return True
