"""Human hand-off (转人工): who owns the conversation is the worker row's `owner` column.

Domain only: opening, adding to and closing escalations. What the worker reads is the caller's.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot import masking, outbox
from bot.clock import now
from bot.models import Escalation, Message, Outbox

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


RATING_WINDOW = timedelta(days=7)  # a digit sent later than this is not taken as a rating


def close_by_staff(session, escalation: Escalation, staff_name: str, note: str = "") -> Outbox | None:
    """Staff finished: close it, hand the worker back to the bot, and tell them through the outbox,
    asking for a 1–5 rating (bot.texts NOTICES["handoff.closed"]). A reopened escalation closed
    again gets a notice of its own. Returns None when the escalation was not open (nothing queued)."""
    if escalation.status != "open":
        return None
    note = (note or "").strip() or "如需进一步帮助，请再联系我们。"
    escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), staff_name[:16]
    escalation.transcript = [*escalation.transcript, {"direction": "staff", "kind": "note", "content": note,
                                                      "by": staff_name, "at": now().isoformat()}]
    escalation.worker.owner = "bot"
    prefix = f"handoff-closed:{escalation.id}:"
    n = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.dedupe_key.startswith(prefix)))
    return outbox.notify(session, escalation.worker_id, "handoff.closed", f"{prefix}{n + 1}",
                         purpose="staff_reply", staff=staff_name, note=note)


def reopen(session, escalation: Escalation) -> bool:
    """Staff reopen a closed escalation: the worker's messages go to staff again (worker.owner).

    Raises ValueError when the worker already has another open escalation (one at a time)."""
    if escalation.status == "open":
        return False
    other = session.scalars(select(Escalation).where(
        Escalation.worker_id == escalation.worker_id, Escalation.status == "open")).first()
    if other is not None:
        raise ValueError(f"worker already has open escalation {other.id}")
    escalation.status, escalation.closed_at, escalation.closed_by = "open", None, None
    escalation.rating, escalation.rated_at = None, None  # the next close asks again
    escalation.worker.owner = "staff"
    return True


def rate(session, worker, stars: int) -> Escalation | None:
    """Record the worker's 1–5 rating on their most recently closed, unrated escalation that staff
    closed within RATING_WINDOW; None when there is nothing to rate (the digit means something else)."""
    if not 1 <= int(stars) <= 5:
        raise ValueError("a rating is 1 to 5")
    escalation = session.scalars(select(Escalation).where(
        Escalation.worker_id == worker.id, Escalation.status == "closed", Escalation.rating.is_(None),
        Escalation.closed_by != "worker", Escalation.closed_at >= now() - RATING_WINDOW)
        .order_by(Escalation.closed_at.desc())).first()
    if escalation is not None:
        escalation.rating, escalation.rated_at = int(stars), now()
    return escalation
