"""Staff actions on an escalation: assign, reply through the outbox, notes, close and reopen (all audited).

The caller holds the write transaction (bot.storage.write_transaction) and commits.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import audit, outbox
from bot.clock import now
from bot.models import Escalation, EscalationNote, Outbox, StaffUser
from bot.services import handoff

MAX_REPLY = 600  # characters; WeChat's customer-service text limit is 2048 bytes
MAX_NOTE = 2000


class CaseError(ValueError):
    """A staff action that cannot be done in the escalation's current state (message for staff)."""


def actor(staff: StaffUser) -> str:
    return f"staff:{staff.login}"


def assign(session, escalation: Escalation, to: StaffUser | None, staff: StaffUser) -> None:
    """Give the escalation to a colleague (or to oneself); None puts it back in the unassigned tab."""
    if escalation.status != "open":
        raise CaseError("已结案的会话不能分配，请先重新打开")
    if to is not None and not to.active:
        raise CaseError("该账号已停用")
    escalation.assigned_to_id = to.id if to else None
    audit.record(session, actor(staff), "escalation.assign", "escalation", escalation.id,
                 to=to.login if to else None)


# -- replies -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyResult:
    outcome: str  # queued | duplicate (the same reply pressed twice) | conflict (a colleague replied first)
    row: Outbox | None  # the reply queued; for a duplicate or a conflict, the one already queued


def _prefix(escalation: Escalation) -> str:
    return f"staff-reply:{escalation.id}:"


def reply_token(session, escalation: Escalation) -> str:
    """What the reply form carries: how many staff replies the writer has seen. Two replies written
    on the same view of the conversation share one outbox dedupe key, so only the first is sent."""
    return str(session.scalar(select(func.count(Outbox.id)).where(Outbox.dedupe_key.startswith(_prefix(escalation)))))


def reply(session, escalation: Escalation, staff: StaffUser, text: str, token: str) -> ReplyResult:
    text = (text or "").strip()
    if not text:
        raise CaseError("回复内容不能为空")
    if len(text) > MAX_REPLY:
        raise CaseError(f"回复最多 {MAX_REPLY} 字（现在 {len(text)} 字），请分两条发送")
    if escalation.status != "open":
        raise CaseError("会话已结案，不能再回复；如需继续跟进请先重新打开")
    key = _prefix(escalation) + str(token).strip()[:16]
    existing = session.scalars(select(Outbox).where(Outbox.dedupe_key == key)).first()
    if existing is None and str(token).strip() != reply_token(session, escalation):
        # PostgreSQL: a colleague's reply with this very key may have committed between the two reads
        existing = session.scalars(select(Outbox).where(Outbox.dedupe_key == key)).first()
        if existing is None:
            raise CaseError("页面已过期，请刷新后再发送")
    if existing is None:
        try:  # PostgreSQL: a colleague's insert of the same key may land between the check and here
            with session.begin_nested():
                row = outbox.queue(session, escalation.worker_id, text, dedupe_key=key, purpose="staff_reply",
                                   escalation_id=escalation.id, staff=staff.name, staff_login=staff.login)
        except IntegrityError:
            row = None
        if row is None:  # the colleague's row committed first (queue() found it) or collided here
            existing = session.scalars(select(Outbox).where(Outbox.dedupe_key == key)).one()
    if existing is not None:
        same = existing.payload.get("staff_login") == staff.login and existing.payload.get("content") == text
        return ReplyResult("duplicate" if same else "conflict", existing)
    escalation.last_reply_at = now()
    escalation.first_response_at = escalation.first_response_at or now()
    if escalation.assigned_to_id is None:
        escalation.assigned_to_id = staff.id  # who answers an unassigned conversation takes it
    audit.record(session, actor(staff), "escalation.reply", "escalation", escalation.id, outbox_id=row.id)
    return ReplyResult("queued", row)


def note(session, escalation: Escalation, staff: StaffUser, body: str) -> EscalationNote:
    """An internal note: staff see it in the conversation, the worker never does."""
    body = (body or "").strip()
    if not body:
        raise CaseError("备注不能为空")
    if len(body) > MAX_NOTE:
        raise CaseError(f"备注最多 {MAX_NOTE} 字")
    row = EscalationNote(escalation_id=escalation.id, author_id=staff.id, body=body)
    session.add(row)
    session.flush()
    audit.record(session, actor(staff), "escalation.note", "escalation", escalation.id, note_id=row.id)
    return row


def close(session, escalation: Escalation, staff: StaffUser, message: str = "") -> Outbox | None:
    """Close: the worker is told (and asked for a 1–5 rating) and handed back to the bot."""
    if len((message or "").strip()) > MAX_REPLY:
        raise CaseError(f"结案说明最多 {MAX_REPLY} 字")
    if escalation.status != "open":
        raise CaseError("会话已经结案")
    row = handoff.close_by_staff(session, escalation, staff.name, message)
    session.flush()
    audit.record(session, actor(staff), "escalation.close", "escalation", escalation.id,
                 outbox_id=row.id if row else None)
    return row


def reopen(session, escalation: Escalation, staff: StaffUser) -> None:
    """Reopen a closed escalation: the worker's next messages come to staff again."""
    try:
        if not handoff.reopen(session, escalation):
            raise CaseError("会话没有结案，无需重新打开")
    except ValueError as exc:
        if isinstance(exc, CaseError):
            raise
        raise CaseError("该职工已有一个进行中的会话，请在那里继续") from exc
    escalation.assigned_to_id = escalation.assigned_to_id or staff.id
    audit.record(session, actor(staff), "escalation.reopen", "escalation", escalation.id)
