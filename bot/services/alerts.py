"""Staff alerts on the workbench: the StaffAlert rows the scheduler makes for new hand-offs and flagged
check-ins (bot/jobs/staff_alerts.py), shown until someone opens the conversation."""
from __future__ import annotations

from sqlalchemy import select

from bot.clock import now
from bot.models import Escalation, StaffAlert, StaffUser

PUSH_LABELS = {"pending": "推送中", "sent": "已推送", "failed": "推送失败"}


def unseen(session, limit: int = 20) -> list[StaffAlert]:
    """Alerts no one has acted on yet, newest first (their hand-off still open)."""
    return list(session.scalars(select(StaffAlert).join(Escalation).where(
        StaffAlert.seen_at.is_(None), Escalation.status == "open").order_by(StaffAlert.id.desc()).limit(limit)))


def mark_seen(session, escalation: Escalation, staff: StaffUser) -> None:
    """Someone opened the conversation: its alert is dealt with."""
    alert = session.scalars(select(StaffAlert).where(StaffAlert.escalation_id == escalation.id,
                                                     StaffAlert.seen_at.is_(None))).first()
    if alert is not None:
        alert.seen_at, alert.seen_by = now(), staff.login
