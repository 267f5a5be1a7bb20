"""The legal-aid desk for staff and the lawyer on duty: a day's slots with their bookings, marking
attended / no-show / cancelled, and managing slots and their capacity. Audited; the caller commits.
(The workers' own side is bot/services/legal_aid.py.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import audit, outbox
from bot.clock import LOCAL_TZ, aware, local_now, now
from bot.models import LegalAidBooking, LegalAidSlot, MembershipApplication
from bot.services.legal_aid import MODES, describe

OUTCOMES = ("attended", "no_show")
MAX_CAPACITY = 50


class DeskError(ValueError):
    """An action the desk refuses (the message is for staff)."""


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class Seat:
    booking: LegalAidBooking
    name: str


@dataclass(frozen=True)
class SlotDay:
    slot: LegalAidSlot
    seats: list[Seat]

    @property
    def taken(self) -> int:
        return sum(1 for s in self.seats if s.booking.status != "cancelled")


def day_view(session, day: date) -> list[SlotDay]:
    """The day's slots in order, each with every booking (cancelled ones too) and who made it."""
    start, end = _day_range(day)
    slots = list(session.scalars(select(LegalAidSlot).where(LegalAidSlot.starts_at >= start, LegalAidSlot.starts_at < end)
                                 .order_by(LegalAidSlot.starts_at, LegalAidSlot.place)))
    bookings = list(session.scalars(select(LegalAidBooking).where(LegalAidBooking.slot_id.in_([s.id for s in slots]))
                                    .order_by(LegalAidBooking.id)))
    names = dict(session.execute(select(MembershipApplication.worker_id, MembershipApplication.name).where(
        MembershipApplication.worker_id.in_({b.worker_id for b in bookings}))).all())
    by_slot: dict[int, list[Seat]] = {}
    for b in bookings:
        by_slot.setdefault(b.slot_id, []).append(Seat(b, names.get(b.worker_id) or f"微信用户 …{b.worker.openid[-6:]}"))
    return [SlotDay(s, by_slot.get(s.id, [])) for s in slots]


def days_with_bookings(session, around: date, weeks: int = 2) -> list[tuple[date, int]]:
    """Days near `around` that have booked consultations, with how many (for the day picker)."""
    rows = session.execute(select(LegalAidBooking.day, func.count()).where(
        LegalAidBooking.status != "cancelled", LegalAidBooking.day >= around - timedelta(days=7),
        LegalAidBooking.day <= around + timedelta(weeks=weeks)).group_by(LegalAidBooking.day).order_by(LegalAidBooking.day))
    return [(d, n) for d, n in rows.all()]


def _actor(staff) -> str:
    return f"staff:{staff.login}"


def mark(session, booking: LegalAidBooking, outcome: str, staff) -> None:
    """Attended or no-show, once the consultation's day has come (a mistake may be corrected)."""
    if outcome not in OUTCOMES:
        raise DeskError("未知的到场情况。")
    if booking.status == "cancelled":
        raise DeskError("这个预约已经取消了。")
    if booking.slot is not None and aware(booking.slot.starts_at).astimezone(LOCAL_TZ).date() > local_now().date():
        raise DeskError("咨询日还没到，不能标记到场情况；如需取消请点「取消预约」。")
    booking.status = outcome
    audit.record(session, _actor(staff), f"legal_aid.{outcome}", "legal_aid_booking", booking.id)


def cancel(session, booking: LegalAidBooking, staff, reason: str = "") -> None:
    """Cancel a booking for the worker (the seat is free again); they are told through the outbox."""
    if booking.status == "cancelled":
        raise DeskError("这个预约已经取消了。")
    if booking.status in OUTCOMES:
        raise DeskError("已经标记了到场情况的预约不能取消。")
    booking.status, booking.cancelled_at = "cancelled", now()
    reason = " ".join((reason or "").split())[:200]
    if booking.slot is not None and aware(booking.slot.starts_at) > now():
        outbox.notify(session, booking.worker_id, "legal_aid.cancelled", f"legal-aid-cancelled:{booking.id}",
                      when=describe(booking.slot), reason=f"原因：{reason}" if reason else "")
    audit.record(session, _actor(staff), "legal_aid.cancel", "legal_aid_booking", booking.id, reason=reason)


# -- slots ----------------------------------------------------------------------------------------
def upcoming(session, days: int = 28) -> list[tuple[LegalAidSlot, int]]:
    """Slots from today on for `days` days, with how many seats are taken."""
    start, _ = _day_range(local_now().date())
    taken = (select(func.count(LegalAidBooking.id)).where(LegalAidBooking.slot_id == LegalAidSlot.id,
                                                          LegalAidBooking.status != "cancelled")
             .correlate(LegalAidSlot).scalar_subquery())
    rows = session.execute(select(LegalAidSlot, taken).where(
        LegalAidSlot.starts_at >= start, LegalAidSlot.starts_at < start + timedelta(days=days))
        .order_by(LegalAidSlot.starts_at, LegalAidSlot.place)).all()
    return [(slot, int(n)) for slot, n in rows]


def _taken(session, slot: LegalAidSlot) -> int:
    return session.scalar(select(func.count(LegalAidBooking.id)).where(
        LegalAidBooking.slot_id == slot.id, LegalAidBooking.status != "cancelled"))


def add_slot(session, day: date, start: time, end: time, place: str, mode: str, capacity: int, staff) -> LegalAidSlot:
    starts = datetime.combine(day, start, LOCAL_TZ).astimezone(UTC)
    ends = datetime.combine(day, end, LOCAL_TZ).astimezone(UTC)
    place = " ".join((place or "").split())[:128]
    if ends <= starts:
        raise DeskError("结束时间要晚于开始时间。")
    if starts <= now():
        raise DeskError("只能添加还没开始的时段。")
    if mode not in MODES:
        raise DeskError("请选择现场或线上。")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise DeskError(f"名额要在 1 到 {MAX_CAPACITY} 之间。")
    slot = LegalAidSlot(starts_at=starts, ends_at=ends, place=place, mode=mode, capacity=capacity)
    try:
        with session.begin_nested():
            session.add(slot)
    except IntegrityError:
        raise DeskError("同一地点同一开始时间已经有这个时段了。") from None
    audit.record(session, _actor(staff), "legal_aid.slot_add", "legal_aid_slot", slot.id, capacity=capacity)
    return slot


def set_capacity(session, slot: LegalAidSlot, capacity: int, staff) -> None:
    taken = _taken(session, slot)
    if not 1 <= capacity <= MAX_CAPACITY:
        raise DeskError(f"名额要在 1 到 {MAX_CAPACITY} 之间。")
    if capacity < taken:
        raise DeskError(f"这个时段已有 {taken} 人预约，名额不能少于 {taken}。")
    before, slot.capacity = slot.capacity, capacity
    audit.record(session, _actor(staff), "legal_aid.slot_capacity", "legal_aid_slot", slot.id, before=before,
                 after=capacity)


def delete_slot(session, slot: LegalAidSlot, staff) -> None:
    if _taken(session, slot):
        raise DeskError("这个时段还有预约，请先取消这些预约（职工会收到通知）再删除。")
    for booking in session.scalars(select(LegalAidBooking).where(LegalAidBooking.slot_id == slot.id)):
        booking.slot_id = None  # cancelled bookings keep their day, lose the slot
    audit.record(session, _actor(staff), "legal_aid.slot_delete", "legal_aid_slot", slot.id, starts=describe(slot))
    session.delete(slot)
