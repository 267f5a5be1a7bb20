"""Every SQLAlchemy model of the bot, in the 2.0 typed style (one module, as microblog)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.clock import aware, now
from bot.columns import String, Text  # NUL-free text columns (issue 15: PostgreSQL refuses NUL)
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
    # Who answers this worker right now: "bot"; "staff" while a handoff is open in the workbench;
    # "wechat_kf" while WeChat's own customer-service tool has the conversation (issue 12).
    owner: Mapped[str] = mapped_column(String(16), default="bot")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    last_seen_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # 退订提醒 / 恢复提醒 (bot/services/reminders.py): no scheduled reminders while True.
    reminders_off: Mapped[bool] = mapped_column(Boolean, default=False)

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
    # looked up by worker through ix_message_worker_recent (below), whose first column it is
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    kind: Mapped[str] = mapped_column(String(40))  # text, voice, event:subscribe, staff, notice …
    content: Mapped[str] = mapped_column(Text, default="")
    # MsgId, or FromUserName:CreateTime for events; unique so a retry can never be handled twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    reply_xml: Mapped[str | None] = mapped_column(Text)  # the plain reply, replayed on retries
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)

    worker: Mapped[Worker] = relationship()


# Why an outbox message is sent; decides the sending rules (see Outbox.purpose).
OUTBOX_PURPOSES = ("notice", "reminder", "staff_reply", "decision", "late_reply", "alert")


class Outbox(db.Model):
    """A message the bot must push through the WeChat API (customer-service or template)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | template
    # Why it is sent; decides the sending rules (quiet hours, 48-hour window fallback) and what a
    # row found after a sender crash becomes: reminder (at most once), staff_reply / decision /
    # late_reply (at least once), notice, alert.
    purpose: Mapped[str] = mapped_column(String(16), default="notice", index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    # pending → claimed (a sender's lease) → sending (the API call is under way) → sent | pending
    # (retry) | failed; also parked → delivered (passive reply), skipped (unfollowed), expired
    # (payload expires_at passed), unknown (a reminder whose sender died during the call: maybe
    # sent, never resent). See bot/sender.py.
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    wechat_msg_id: Mapped[str | None] = mapped_column(String(32), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    not_before: Mapped[datetime | None] = mapped_column(Timestamp)  # back-off after a failed attempt
    claimed_at: Mapped[datetime | None] = mapped_column(Timestamp)  # a sender took it ("sending")
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # --- issue 10: WeChat's sending rules ---
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the sender holding the lease
    sent_as: Mapped[str | None] = mapped_column(String(12))  # custom | template | passive: what it became
    last_errcode: Mapped[int | None] = mapped_column(Integer)  # WeChat's errcode of the last failed attempt

    # take_parked() runs on every inbound message: one index lookup when nothing is parked.
    __table_args__ = (Index("ix_outbox_worker_status", "worker_id", "status"),)


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
    # issue 11, the workbench: who has it, when staff first answered and last replied (the
    # "waiting on worker" tab compares that with the worker's last message), and the worker's
    # 1–5 rating after it was closed.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_reply_at: Mapped[datetime | None] = mapped_column(Timestamp)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # issue 12: where staff answer it: "workbench", or "wechat_kf" (WeChat's own customer-service
    # tool, HANDOFF_TO=wechat_kf) with the 客服 account that has the session
    channel: Mapped[str] = mapped_column(String(16), default="workbench", server_default="workbench")
    kf_account: Mapped[str | None] = mapped_column(String(64))

    worker: Mapped[Worker] = relationship()
    assigned_to: Mapped[StaffUser | None] = relationship()


class RouteLog(db.Model):
    """A routed free-text message: what the router decided (the text of those it could not answer
    confidently is kept for staff review)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("worker.id"))
    text: Mapped[str] = mapped_column(Text)
    # clarify | fallback; issue 12: also "answer" (the text kept only when the router was unsure,
    # see bot.answers.REVIEW_BELOW), for the workbench's topics and share answered
    decision: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)


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


class Consent(db.Model):
    """A worker's consent to one purpose (PIPL; health data needs its own, art. 28–29)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # membership | health
    notice_version: Mapped[str] = mapped_column(String(16), default="1")
    granted_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    withdrawn_at: Mapped[datetime | None] = mapped_column(Timestamp)

    __table_args__ = (UniqueConstraint("worker_id", "purpose", name="uq_consent_worker_purpose"),)


class MembershipApplication(db.Model):
    """入会申请. One row per worker and per ID number; re-applying after rejection reuses the row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    id_number_encrypted: Mapped[str] = mapped_column(Text)  # Fernet token, see bot/services/crypto.py
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)  # keyed hash, for uniqueness
    id_number_masked: Mapped[str] = mapped_column(String(24))
    employer: Mapped[str] = mapped_column(String(128))
    employer_has_union: Mapped[str] = mapped_column(String(8))  # yes | no | unsure
    district: Mapped[str] = mapped_column(String(32))
    industry: Mapped[str] = mapped_column(String(32))
    # pending → approved | rejected; pending → withdrawn; rejected/withdrawn → pending (re-apply)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    routed_to: Mapped[str | None] = mapped_column(String(64))  # grassroots or regional union
    reject_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=now, onupdate=now)

    worker: Mapped[Worker] = relationship()


class HomeOfficeRegistration(db.Model):
    """居家办公报备: a period of working from home, registered with the residential community."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    employer: Mapped[str] = mapped_column(String(128))
    community: Mapped[str] = mapped_column(String(128))  # 街道 / 社区
    address: Mapped[str] = mapped_column(String(256))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reported_to_community: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(8), default="active", index=True)  # active | ended
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)

    worker: Mapped[Worker] = relationship()


class HealthCheckin(db.Model):
    """每日健康打卡: one reading. A worker may check in more than once a day; every reading is kept
    and the day shows the worst (bot.services.home_office.Day)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("home_office_registration.id"))
    day: Mapped[date] = mapped_column(Date)
    temperature: Mapped[float] = mapped_column(Float)
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    test_result: Mapped[str | None] = mapped_column(String(16))
    test_date: Mapped[date | None] = mapped_column(Date)
    whereabouts: Mapped[str] = mapped_column(String(256))
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=now, onupdate=now)

    worker: Mapped[Worker] = relationship()
    __table_args__ = (Index("ix_checkin_worker_day", "worker_id", "day"),)


class LegalAidSlot(db.Model):
    """A consultation slot offered by union lawyers, with a capacity."""

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    place: Mapped[str] = mapped_column(String(128), default="")
    mode: Mapped[str] = mapped_column(String(12), default="in_person")  # in_person | online

    __table_args__ = (UniqueConstraint("starts_at", "place", name="uq_slot_start_place"),)


class LegalAidBooking(db.Model):
    """A legal-aid consultation booked by a worker."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("legal_aid_slot.id"), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    facts: Mapped[str] = mapped_column(Text)
    day: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    # booked | cancelled; after the consultation the desk marks attended | no_show (issue 12)
    status: Mapped[str] = mapped_column(String(12), default="booked", index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    cancelled_at: Mapped[datetime | None] = mapped_column(Timestamp)

    worker: Mapped[Worker] = relationship()
    slot: Mapped[LegalAidSlot | None] = relationship()


class AuditLog(db.Model):
    """Who did what, when, to which record: staff actions and the automated jobs (never contents)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "staff:<login>", "job:retention", "cli", "worker:<id>"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. application.approve, retention.delete
    target_type: Mapped[str | None] = mapped_column(String(32))  # e.g. membership_application
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts and reasons, never personal data


# --- issue 10: scheduled jobs and staff alerts (wt10b) ---

class JobOccurrence(db.Model):
    """One run of a scheduled job for one subject (a worker's reminder on a day, a booking, a day's
    retention run). The unique key makes it happen once, however many ticks or processes try."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # e.g. checkin_reminder:<worker_id>:<date>
    job: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)  # the Beijing date it belongs to
    outcome: Mapped[str] = mapped_column(String(16), default="done")  # done | queued | held | skipped
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)

    __table_args__ = (Index("ix_job_occurrence_job_day", "job", "day"),)


class StaffAlert(db.Model):
    """A new escalation (转人工 or a flagged check-in) for the on-duty staff: one per escalation,
    shown on the workbench, and pushed to the optional webhook and e-mail address."""

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)
    seen_at: Mapped[datetime | None] = mapped_column(Timestamp)  # the workbench sets it
    seen_by: Mapped[str | None] = mapped_column(String(64))
    # Per channel: None (not configured when the alert was made) | pending | sent | failed
    webhook_status: Mapped[str | None] = mapped_column(String(8))
    email_status: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_error: Mapped[str | None] = mapped_column(Text)

    escalation: Mapped[Escalation] = relationship()
# --- issue 11: staff workbench (accounts, inbox, canned replies) ---


class StaffUser(db.Model):
    """A union staff member who logs in to the workbench at /staff (role staff or admin)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))  # shown to colleagues and signed on closing notices
    role: Mapped[str] = mapped_column(String(8), default="staff")  # staff | admin
    password_hash: Mapped[str] = mapped_column(String(256))
    # Flask-Login's session id: replaced on a password change or deactivation, which ends every
    # session of that account at once (the cookie holds this token, never the numeric id).
    session_token: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    last_login_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and aware(self.locked_until) > now()

    # Flask-Login's user protocol (https://flask-login.readthedocs.io/en/latest/#your-user-class)
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self.session_token


class LoginAttempt(db.Model):
    """One login attempt: the per-address rate limit counts these (shared by every process)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, default=now, index=True)
    ip: Mapped[str] = mapped_column(String(45), index=True)
    login: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)


class EscalationNote(db.Model):
    """An internal note on an escalation: staff-only, never sent to the worker."""

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)

    author: Mapped[StaffUser] = relationship()


class Presence(db.Model):
    """Who has an escalation open right now, and whether they are typing (rows expire in seconds)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    typing: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_at: Mapped[datetime] = mapped_column(Timestamp, default=now)

    staff: Mapped[StaffUser] = relationship()
    __table_args__ = (UniqueConstraint("escalation_id", "staff_id", name="uq_presence_escalation_staff"),)


class CannedReply(db.Model):
    """A reply staff reuse, with placeholders such as {姓名} filled in for each worker."""

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=now, onupdate=now)


# --- issue 15 (wt14): flood control counts a worker's messages of the last minute (bot/hot_path.py) ---
Index("ix_message_worker_recent", Message.worker_id, Message.direction, Message.created_at)


# --- issue 12: staff workbench part 2 (knowledge-base overlay, privacy requests) ---


class KbExample(db.Model):
    """The knowledge-base overlay: a worker's question staff added as an example of an FAQ entry
    (faq_id), or marked out of scope (faq_id None). The router learns it within seconds in every
    process (bot.faq.overlay); `flask faq export-overlay` writes it into faq/*.yaml (exported_at)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    faq_id: Mapped[str | None] = mapped_column(String(64), index=True)  # None: out of scope
    text: Mapped[str] = mapped_column(String(200))
    # the text as fixed phrases are compared (bot.vocabulary.key): unique, so one question can never
    # be an example of two entries, nor of an entry and out of scope
    key: Mapped[str] = mapped_column(String(200), unique=True)
    added_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    exported_at: Mapped[datetime | None] = mapped_column(Timestamp)

    @property
    def out_of_scope(self) -> bool:
        return self.faq_id is None


class PrivacyRequest(db.Model):
    """A worker's request about their personal data (PIPL art. 44–47): show it (查询我的信息),
    delete it (删除我的信息) or withdraw consent (撤回同意). Staff handle it in the workbench."""

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("worker.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # show | delete | withdraw
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | done
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=now)
    handled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))  # exported | deleted | answered

    worker: Mapped[Worker] = relationship()
