"""The hand-off inbox, read side: tabs and counts, response targets, the conversation, the window, presence.

Staff actions on an escalation (assign, reply, note, close, reopen) are in bot/services/casework.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from bot import outbox
from bot.clock import aware, now
from bot.models import Escalation, EscalationNote, MembershipApplication, Message, Outbox, Presence, StaffUser
from bot.services import workbench

TABS = ("unassigned", "mine", "waiting", "open", "kf", "closed")  # kf: in WeChat's own 客服 tool (issue 12)
PRESENCE_TTL = timedelta(seconds=20)  # the page reports every 5 s; a closed tab drops out after this
TIMELINE_LIMIT = 200  # latest messages of the worker shown with an escalation

# The worker's latest message: staff are "waiting on the worker" when their last reply is newer.
_last_in = (select(func.max(Message.created_at))
            .where(Message.worker_id == Escalation.worker_id, Message.direction == "in")
            .correlate(Escalation).scalar_subquery())
_waiting = and_(Escalation.last_reply_at.is_not(None), or_(_last_in.is_(None), _last_in <= Escalation.last_reply_at))


def _where(tab: str, staff: StaffUser):
    is_open = Escalation.status == "open"
    here = and_(is_open, Escalation.channel != "wechat_kf")  # answered in the workbench
    return {
        "unassigned": and_(here, Escalation.assigned_to_id.is_(None)),
        "mine": and_(here, Escalation.assigned_to_id == staff.id, ~_waiting),
        "waiting": and_(here, Escalation.assigned_to_id.is_not(None), _waiting),
        "open": is_open,
        "kf": and_(is_open, Escalation.channel == "wechat_kf"),
        "closed": Escalation.status == "closed",
    }[tab]


def counts(session, staff: StaffUser) -> dict[str, int]:
    return {tab: session.scalar(select(func.count(Escalation.id)).where(_where(tab, staff))) for tab in TABS}


@dataclass(frozen=True)
class Item:
    """One escalation as the inbox lists it."""

    escalation: Escalation
    name: str
    last_in_at: datetime | None
    first_response_due: datetime | None  # None once staff have answered
    resolution_due: datetime

    @property
    def overdue(self) -> bool:
        if self.escalation.status != "open":
            return False
        first = self.first_response_due is not None and now() > self.first_response_due
        return first or now() > self.resolution_due

    @property
    def age(self) -> timedelta:
        return (aware(self.escalation.closed_at) or now()) - aware(self.escalation.created_at)


def names(session, worker_ids) -> dict[int, str]:
    """Worker id → name from their membership application (the only place a name is on record)."""
    rows = session.execute(select(MembershipApplication.worker_id, MembershipApplication.name)
                           .where(MembershipApplication.worker_id.in_(set(worker_ids))))
    return dict(rows.all())


def display_name(escalation: Escalation, known: dict[int, str]) -> str:
    return known.get(escalation.worker_id) or f"微信用户 …{escalation.worker.openid[-6:]}"


def item(escalation: Escalation, name: str, last_in_at: datetime | None) -> Item:
    target = workbench.targets()[escalation.reason] if escalation.reason in workbench.REASONS else None
    created = aware(escalation.created_at)
    first_due = None
    if escalation.first_response_at is None and target is not None:
        first_due = created + target.first_response
    resolution = created + (target.resolution if target else timedelta(days=2))
    return Item(escalation, name, aware(last_in_at), first_due, resolution)


def items(session, tab: str, staff: StaffUser, limit: int = 100) -> list[Item]:
    order = Escalation.closed_at.desc() if tab == "closed" else Escalation.created_at
    rows = session.execute(select(Escalation, _last_in).where(_where(tab, staff)).order_by(order).limit(limit)).all()
    known = names(session, [e.worker_id for e, _ in rows])
    return [item(e, display_name(e, known), last_in) for e, last_in in rows]


def one(session, escalation: Escalation) -> Item:
    last_in = session.scalar(select(func.max(Message.created_at)).where(
        Message.worker_id == escalation.worker_id, Message.direction == "in"))
    return item(escalation, display_name(escalation, names(session, [escalation.worker_id])), last_in)


# -- the conversation --------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One line of the conversation: the worker, the bot, a staff reply (with its sending status), a note."""

    at: datetime
    who: str  # worker | bot | staff | note
    text: str
    by: str = ""
    status: str | None = None  # outbox status for what went through the WeChat API
    error: str | None = None


def timeline(session, escalation: Escalation) -> list[Entry]:
    """The worker's conversation from the message log, what went out through the outbox (with its
    status and WeChat's error) and this escalation's internal notes, oldest first."""
    worker_id = escalation.worker_id
    messages = session.scalars(select(Message).where(Message.worker_id == worker_id)
                               .order_by(Message.id.desc()).limit(TIMELINE_LIMIT)).all()
    # A sent outbox row is also logged as a message "outbox:<kind>"; the outbox row says more.
    entries = [Entry(aware(m.created_at), *_said(m)) for m in messages if not m.kind.startswith("outbox:")]
    since = aware(messages[-1].created_at) if len(messages) == TIMELINE_LIMIT else None
    query = select(Outbox).where(Outbox.worker_id == worker_id)
    for row in session.scalars(query.where(Outbox.created_at >= since) if since else query):
        text = row.payload.get("content") or f"[模板消息 {row.payload.get('template_id', '')}]"
        who = "staff" if row.purpose == "staff_reply" else "bot"
        entries.append(Entry(aware(row.created_at), who, text, row.payload.get("staff", ""), row.status,
                             row.last_error))
    for note in session.scalars(select(EscalationNote).where(EscalationNote.escalation_id == escalation.id)):
        entries.append(Entry(aware(note.created_at), "note", note.body, note.author.name))
    return sorted(entries, key=lambda e: e.at)


EVENTS = {"event:subscribe": "关注了公众号", "event:subscribe_scan": "扫码关注了公众号",
          "event:unsubscribe": "取消了关注", "event:click": "点击了菜单"}


def _said(m: Message) -> tuple[str, str]:
    """(who, text) for a logged message; events get a short description instead of their key."""
    if m.direction != "in":
        return "bot", m.content
    if m.kind.startswith("event:"):
        return "event", f"职工{EVENTS.get(m.kind, m.kind)}{' ' + m.content if m.content else ''}"
    return "worker", m.content


# -- WeChat's 48-hour window -------------------------------------------------------------------
@dataclass(frozen=True)
class WindowLine:
    is_open: bool
    text: str  # e.g. 窗口至 12月3日 14:05，还可发 3 条
    becomes: str  # custom | template | park: what a staff reply becomes now


def window_line(session, worker, config) -> WindowLine:
    """The worker's customer-service window in words and what a staff reply becomes now."""
    becomes, text = outbox.window_status(session, worker, config, "staff_reply")
    return WindowLine(becomes == "custom", text, becomes)


# -- who else is here --------------------------------------------------------------------------
def touch(session, escalation: Escalation, staff: StaffUser, typing: bool = False) -> None:
    """Record that this staff member has the escalation open (and whether they are typing)."""
    row = session.scalars(select(Presence).where(Presence.escalation_id == escalation.id,
                                                 Presence.staff_id == staff.id)).first()
    if row is None:
        try:  # the same person in two tabs may insert at once (PostgreSQL): keep the other row
            with session.begin_nested():
                session.add(Presence(escalation_id=escalation.id, staff_id=staff.id, typing=typing, seen_at=now()))
            return
        except IntegrityError:
            row = session.scalars(select(Presence).where(Presence.escalation_id == escalation.id,
                                                         Presence.staff_id == staff.id)).one()
    row.typing, row.seen_at = typing, now()


def others(session, escalation: Escalation, staff: StaffUser) -> list[Presence]:
    """Colleagues who had this escalation open in the last PRESENCE_TTL."""
    return list(session.scalars(select(Presence).where(
        Presence.escalation_id == escalation.id, Presence.staff_id != staff.id,
        Presence.seen_at >= now() - PRESENCE_TTL).order_by(Presence.seen_at)))
