"""The audit log: one row per staff action or job effect (who, what, when, on which record)."""
from __future__ import annotations

from typing import Any

from bot.models import AuditLog


def record(session, actor: str, action: str, target_type: str | None = None, target_id: Any = None,
           **detail: Any) -> AuditLog:
    """Add an audit row to the caller's transaction (it commits or rolls back with the action itself)."""
    row = AuditLog(actor=actor[:64], action=action[:64], target_type=target_type,
                   target_id=None if target_id is None else str(target_id)[:64], detail=detail)
    session.add(row)
    return row
