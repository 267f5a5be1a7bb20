"""Hand-offs to WeChat's own customer-service tool (HANDOFF_TO=wechat_kf) instead of the workbench.

The worker's owner becomes "wechat_kf" and the escalation's channel says where staff answer; WeChat's
session events (kf_create_session / kf_switch_session / kf_close_session) say which 客服 account has
the worker and when the bot may answer again. Domain only; the conversation layer words the replies.
https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Forwarding_of_messages_to_service_center.html
"""
from __future__ import annotations

from sqlalchemy import select

from bot import audit
from bot.clock import now
from bot.models import Escalation
from bot.services import handoff

CHANNEL = "wechat_kf"  # Worker.owner and Escalation.channel


def _actor(account: str | None) -> str:
    return f"wechat_kf:{account or '-'}"


def hand_over(session, worker, reason: str, account: str | None = None) -> Escalation:
    """The worker goes to WeChat's tool (to one 客服 account when given): an escalation the workbench
    lists as "in WeChat's tool", and the bot stays silent for them until the session is closed."""
    escalation = handoff.open_escalation(session, worker, reason)
    escalation.channel, escalation.kf_account = CHANNEL, (account or escalation.kf_account or None)
    worker.owner = CHANNEL
    return escalation


def account_for(session, worker, configured: str | None = None) -> str | None:
    """Who should get the worker's next message: the 客服 account that has the session, else the setting."""
    escalation = handoff.current(session, worker)
    return (escalation.kf_account if escalation is not None else None) or configured or None


def session_started(session, worker, account: str | None) -> Escalation:
    """kf_create_session: a 客服 account took the worker (also when a 客服 started the session)."""
    escalation = handoff.current(session, worker)
    if escalation is None or escalation.channel != CHANNEL:
        # none open: the 客服 started the session from the tool
        escalation = hand_over(session, worker, "staff_contact" if escalation is None else escalation.reason)
    escalation.channel, worker.owner = CHANNEL, CHANNEL
    escalation.kf_account = (account or "")[:64] or escalation.kf_account
    escalation.first_response_at = escalation.first_response_at or now()
    session.flush()
    audit.record(session, _actor(account), "wechat_kf.session_start", "escalation", escalation.id)
    return escalation


def session_switched(session, worker, to_account: str | None) -> Escalation | None:
    escalation = handoff.current(session, worker)
    if escalation is not None and escalation.channel == CHANNEL:
        escalation.kf_account = (to_account or "")[:64] or escalation.kf_account
        audit.record(session, _actor(to_account), "wechat_kf.session_switch", "escalation", escalation.id)
    return escalation


def session_closed(session, worker, account: str | None) -> list[Escalation]:
    """kf_close_session: the 客服 closed the session; the bot answers the worker again."""
    closed = list(session.scalars(select(Escalation).where(
        Escalation.worker_id == worker.id, Escalation.status == "open", Escalation.channel == CHANNEL)))
    for escalation in closed:
        escalation.status, escalation.closed_at, escalation.closed_by = "closed", now(), "wechat_kf"
        audit.record(session, _actor(account), "wechat_kf.session_close", "escalation", escalation.id)
    if worker.owner == CHANNEL:
        worker.owner = "bot"
    return closed


def leave(session, worker) -> list[Escalation]:
    """The worker typed 结束人工 while waiting for the tool: back to the bot."""
    return handoff.close(session, worker, by="worker")
