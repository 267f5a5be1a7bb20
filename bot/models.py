"""Every SQLAlchemy model of the bot, in the 2.0 typed style (one module, as microblog)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.clock import now
from bot.extensions import db

Timestamp = DateTime(timezone=True)


class Worker(db.Model):
    """A person who follows the official account, known by their OpenID."""

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    scene: Mapped[str | None] = mapped_column(String(64))
    # Who answers this worker right now: "bot", or "staff" while a handoff is open.
    owner: Mapped[str] = mapped_column(String(8), default="bot")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    last_seen_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def mark_subscribed(self, scene: str | None = None) -> None:
        self.subscribed, self.subscribed_at, self.unsubscribed_at = True, now(), None
        if scene:
            self.scene = str(scene)[:64]

    def mark_unsubscribed(self) -> None:
        self.subscribed, self.unsubscribed_at = False, now()


class Dialog(db.Model):
    """One row per worker: the flow they are in, its state and the slots collected so far."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), unique=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(32))
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Conversation context outside flows: a pending clarification, the answer awaiting a vote,
    # the next page of a long answer, a paused flow.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}


class Message(db.Model):
    """Every message received from or sent to a worker; inbound rows also deduplicate retries."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    kind: Mapped[str] = mapped_column(String(40))  # text, voice, event:subscribe, staff, notice …
    content: Mapped[str] = mapped_column(Text, default="")
    # MsgId, or FromUserName:CreateTime for events; unique so a retry can never be handled twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    reply_xml: Mapped[str | None] = mapped_column(Text)  # the plain reply, replayed on retries
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)

    worker: Mapped[Worker] = relationship()


class Outbox(db.Model):
    """A message the bot must push through the WeChat API (customer-service or template)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | template
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    wechat_msg_id: Mapped[str | None] = mapped_column(String(32), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)


class DeliveryReceipt(db.Model):
    """A TEMPLATESENDJOBFINISH event: WeChat's word on whether a template message arrived."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"))
    wechat_msg_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(Timestamp, default=now)


class Escalation(db.Model):
    """A conversation handed to union staff (转人工), with the reason and the recent messages."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # asked | not_helpful | flagged_checkin | invalid_input
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)  # open | closed
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_by: Mapped[str | None] = mapped_column(String(16))

    worker: Mapped[Worker] = relationship()


class RouteLog(db.Model):
    """A free-text message the knowledge base could not answer confidently (for staff review)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    text: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(16))  # clarify | fallback
    target: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)


class FeedbackVote(db.Model):
    """A worker's 有帮助 / 没解决 vote on an FAQ answer."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"))
    faq_id: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)


class KeyValue(db.Model):
    """Small shared values with an expiry, e.g. the WeChat access token (wechatpy session storage)."""

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)


class LegalAidBooking(db.Model):
    """A legal-aid consultation booked by a worker."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    facts: Mapped[str] = mapped_column(Text)
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="booked")  # booked | cancelled
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)

    worker: Mapped[Worker] = relationship()
    __table_args__ = (UniqueConstraint("worker_id", "day", "slot", name="uq_booking_worker_day_slot"),)
