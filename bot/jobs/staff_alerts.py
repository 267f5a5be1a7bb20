"""Staff alerts: one StaffAlert row per new escalation (转人工, a flagged check-in …), which the
workbench shows, pushed to the on-duty staff by an optional webhook (POST JSON) and e-mail.

The pushes carry no personal data: the escalation id, the reason and a link to the workbench.
A failed push is retried with back-off (STAFF_ALERT_MAX_ATTEMPTS), then marked failed; it never
holds up the other jobs, and no network call is made while the database write lock is held.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import requests
from sqlalchemy import exists, or_, select

from bot.clock import aware, now
from bot.jobs.base import Context, insert_once
from bot.models import Escalation, StaffAlert
from bot.storage import write_transaction

log = logging.getLogger(__name__)
REASONS = {"asked": "职工请求转人工", "not_helpful": "职工反馈回答没解决", "flagged_checkin": "健康打卡异常",
           "invalid_input": "多次输入无效后转人工"}
TIMEOUT = 10  # seconds per push: a slow receiver must not stall the scheduler for long
MAX_BACKOFF = timedelta(hours=1)


class NotConfigured(Exception):
    """A push is pending for a channel whose setting has since been emptied."""


def label(reason: str) -> str:
    return REASONS.get(reason, reason)


def create(session, ctx: Context) -> dict[str, int]:
    """A StaffAlert for each open escalation that has none (at most ctx.batch per call)."""
    cfg = ctx.config
    webhook = "pending" if cfg.get("STAFF_ALERT_WEBHOOK_URL") else None
    email = "pending" if cfg.get("STAFF_ALERT_EMAIL") and cfg.get("SMTP_HOST") else None
    new = session.scalars(select(Escalation).where(
        Escalation.status == "open", ~exists().where(StaffAlert.escalation_id == Escalation.id),
        Escalation.reason != "staff_contact")  # staff opened it themselves (issue 12): nothing to alert
        .order_by(Escalation.id).limit(ctx.batch)).all()
    created = sum(insert_once(session, StaffAlert, "escalation_id", escalation_id=e.id, reason=e.reason,
                              created_at=now(), webhook_status=webhook, email_status=email, attempts=0,
                              next_attempt_at=now() if webhook or email else None) for e in new)
    return {"created": created} if new else {}


@dataclass(frozen=True)
class Push:
    """What one alert's push needs, read before the network calls (no row is held open meanwhile)."""

    alert_id: int
    escalation_id: int
    reason: str
    created_at: datetime
    webhook: bool
    email: bool


def push(session, ctx: Context) -> dict[str, int]:
    """Send the pushes that are due; runs its own transactions (reads, network, then one write)."""
    due = [Push(a.id, a.escalation_id, a.reason, aware(a.created_at), a.webhook_status == "pending",
                a.email_status == "pending")
           for a in session.scalars(select(StaffAlert).where(
               or_(StaffAlert.webhook_status == "pending", StaffAlert.email_status == "pending"),
               StaffAlert.next_attempt_at <= now()).order_by(StaffAlert.id).limit(ctx.batch))]
    session.rollback()  # end the read before the network calls
    if not due:
        return {}
    results = {p.alert_id: (_try(send_webhook, p, ctx.config) if p.webhook else None,
                            _try(send_email, p, ctx.config) if p.email else None) for p in due}
    counts = {"sent": 0, "retry": 0, "failed": 0}
    write_transaction(session)
    for alert_id, (webhook_error, email_error) in results.items():
        alert = session.get(StaffAlert, alert_id)
        counts[_record(alert, webhook_error, email_error, int(ctx.config.get("STAFF_ALERT_MAX_ATTEMPTS", 8)))] += 1
    session.commit()
    return {k: v for k, v in counts.items() if v}


def _try(send, p: Push, config) -> str:
    """'' when it went through, else the error (kept on the row for staff)."""
    try:
        send(p, config)
        return ""
    except (requests.RequestException, OSError, smtplib.SMTPException, NotConfigured) as exc:
        log.warning("staff alert %s: %s failed: %s", p.alert_id, send.__name__, exc)
        return f"{send.__name__}: {exc}"[:500] or send.__name__


def _record(alert: StaffAlert, webhook_error: str | None, email_error: str | None, max_attempts: int) -> str:
    alert.attempts += 1
    failed = alert.attempts >= max_attempts
    for channel, error in (("webhook_status", webhook_error), ("email_status", email_error)):
        if error == "":
            setattr(alert, channel, "sent")
        elif error and failed:
            setattr(alert, channel, "failed")
    errors = [e for e in (webhook_error, email_error) if e]
    alert.last_error = "; ".join(errors) or None
    if not errors:
        alert.next_attempt_at = None
        return "sent"
    if failed:
        return "failed"
    alert.next_attempt_at = now() + min(timedelta(minutes=2 ** (alert.attempts - 1)), MAX_BACKOFF)
    return "retry"


def link(p: Push, config) -> str:
    return str(config.get("STAFF_ALERT_LINK") or "").format(id=p.escalation_id)


def text(p: Push, config) -> str:
    return f"职工之家：新的{label(p.reason)}（编号 {p.escalation_id}），请到工作台处理：{link(p, config)}"


def send_webhook(p: Push, config) -> None:
    """POST JSON to STAFF_ALERT_WEBHOOK_URL; any 2xx counts as delivered."""
    if not config.get("STAFF_ALERT_WEBHOOK_URL"):
        raise NotConfigured("STAFF_ALERT_WEBHOOK_URL is not set")
    body = {"escalation_id": p.escalation_id, "reason": p.reason, "reason_label": label(p.reason),
            "link": link(p, config), "created_at": p.created_at.isoformat(), "text": text(p, config)}
    requests.post(config["STAFF_ALERT_WEBHOOK_URL"], json=body, timeout=TIMEOUT).raise_for_status()


def send_email(p: Push, config) -> None:
    """One plain-text e-mail to STAFF_ALERT_EMAIL through SMTP_HOST (SMTP_SECURITY: starttls | ssl | none)."""
    if not (config.get("SMTP_HOST") and config.get("STAFF_ALERT_EMAIL")):
        raise NotConfigured("SMTP_HOST or STAFF_ALERT_EMAIL is not set")
    message = EmailMessage()
    message["Subject"] = f"职工之家：{label(p.reason)}（编号 {p.escalation_id}）"
    message["From"] = config.get("SMTP_FROM") or config.get("SMTP_USER") or "zhigongzhijia@localhost"
    message["To"] = config["STAFF_ALERT_EMAIL"]
    message.set_content(text(p, config) + "\n\n（此邮件由职工之家自动发送，不含职工个人信息，详情请登录工作台查看。）")
    security = str(config.get("SMTP_SECURITY") or "starttls").lower()
    host, port = config["SMTP_HOST"], int(config.get("SMTP_PORT") or 0)
    smtp = (smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context()) if security == "ssl"
            else smtplib.SMTP(host, port, timeout=TIMEOUT))
    with smtp:
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
