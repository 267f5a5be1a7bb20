"""Queued outbound messages: written in the same transaction as the event that causes them, sent later.

Never twice: a row is claimed (status "sending") and committed before the API call, and a row
left in "sending" by a crash is not retried automatically but marked "unknown" for staff.
Never lost: API failures are retried with back-off, then marked "failed" for staff to see.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from requests import RequestException
from sqlalchemy import func, or_, select
from wechatpy.exceptions import WeChatClientException

from bot import message_log, texts
from bot.clock import aware, now
from bot.extensions import db
from bot.models import Outbox, Worker
from bot.storage import write_transaction

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=10)


PURPOSES = ("notice", "reminder", "staff_reply", "decision", "late_reply", "alert")


def queue(session, worker_id: int, content: str, dedupe_key: str, kind: str = "text", *,
          purpose: str = "notice", not_before=None, **payload) -> Outbox | None:
    """Add a message to the outbox in the caller's transaction (unique dedupe_key: queueing twice
    is a no-op and returns None). `purpose` picks the sending rules; `not_before` delays it."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown outbox purpose {purpose!r}")
    if session.scalars(select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)).first() is not None:
        return None
    row = Outbox(worker_id=worker_id, kind=kind, dedupe_key=dedupe_key, purpose=purpose,
                 not_before=not_before, payload={"content": content, **payload})
    session.add(row)
    return row


def notify(session, worker_id: int, notice: str, dedupe_key: str, *, purpose: str = "notice",
           not_before=None, **params) -> Outbox | None:
    """Queue one of the worker notices in bot/texts.py NOTICES, filled with `params`: services say
    what happened (membership.approved, handoff.closed …), the wording lives with the other texts."""
    return queue(session, worker_id, texts.NOTICES[notice].format(**params), dedupe_key, purpose=purpose,
                 not_before=not_before, notice=notice)


@dataclass(frozen=True)
class Window:
    """WeChat's customer-service window for one worker: customer-service messages may be sent until
    `until` (48 h after the worker's last interaction) and at most `quota` of them in that time.
    https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
    """

    until: datetime | None
    sent: int
    quota: int

    @property
    def remaining(self) -> int:
        return max(self.quota - self.sent, 0) if self.is_open else 0

    @property
    def is_open(self) -> bool:
        return self.until is not None and now() < self.until and self.sent < self.quota


def window(session, worker, config) -> Window:
    """The worker's window now: from their last interaction (Worker.last_seen_at, kept to the
    minute) and the customer-service messages already sent since then (outbox rows)."""
    last = aware(worker.last_seen_at)
    quota = int(config.get("CS_WINDOW_QUOTA", 5))
    if last is None:
        return Window(None, 0, quota)
    sent = session.scalar(select(func.count(Outbox.id)).where(
        Outbox.worker_id == worker.id, Outbox.kind == "text", Outbox.status == "sent", Outbox.sent_at >= last))
    return Window(last + timedelta(hours=int(config.get("CS_WINDOW_HOURS", 48))), int(sent or 0), quota)


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=2 ** attempts)


def claim(limit: int) -> list[Outbox]:
    write_transaction(db.session)
    rows = db.session.scalars(
        select(Outbox).where(Outbox.status == "pending", or_(Outbox.not_before.is_(None), Outbox.not_before <= now()))
        .order_by(Outbox.id).limit(limit).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.status, row.claimed_at = "sending", now()
    db.session.commit()
    return rows


def send_pending(api, limit: int = 100) -> dict[str, int]:
    """Send what is due; returns counts by outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "unknown": mark_stuck()}
    for row in claim(limit):
        write_transaction(db.session)
        worker = db.session.get(Worker, row.worker_id)
        outcome = deliver(api, row, worker)
        counts[outcome] += 1
        db.session.commit()
    return counts


def deliver(api, row: Outbox, worker: Worker) -> str:
    if not worker.subscribed:
        row.status = "skipped"
        return "skipped"
    row.attempts += 1
    try:
        if row.kind == "template":
            result = api.message.send_template(worker.openid, row.payload["template_id"], row.payload["data"],
                                               url=row.payload.get("url"))
        else:
            result = api.message.send_text(worker.openid, row.payload["content"])
    except (WeChatClientException, RequestException) as exc:
        response = getattr(exc, "response", None)
        status = f"HTTP {response.status_code}: " if response is not None else ""
        row.last_error = (status + str(exc))[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            return "failed"
        row.status, row.not_before = "pending", now() + backoff(row.attempts)
        return "retry"
    row.status, row.sent_at, row.last_error = "sent", now(), None
    row.wechat_msg_id = str(result.get("msgid") or "") or None
    message_log.record(db.session, worker.id, "out", f"outbox:{row.kind}",
                       row.payload.get("content") or row.payload.get("template_id", ""))
    return "sent"


def mark_stuck() -> int:
    write_transaction(db.session)
    stuck = db.session.scalars(select(Outbox).where(Outbox.status == "sending")).all()
    n = 0
    for row in stuck:
        if row.claimed_at is None or aware(row.claimed_at) < now() - STUCK_AFTER:
            row.status, row.last_error, n = "unknown", "sender stopped during the API call; check before resending", n + 1
    db.session.commit()
    return n
