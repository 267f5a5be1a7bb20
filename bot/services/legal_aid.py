"""Legal-aid consultations: slots from the weekly schedule, open seats, booking, listing and cancelling.

Slots are rows (LegalAidSlot) made from config/legal_aid_slots.yaml by `flask legal-aid slots`;
a booking takes a seat only inside the transaction that locks the slot row, so two workers
confirming the last seat at once cannot both get it. Domain only: the wording is the flow's and
the targets' (bot/flows/legal_aid.py, bot/targets/legal_aid.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml
from sqlalchemy import exists, func, select

from bot import masking
from bot.clock import LOCAL_TZ, aware, now
from bot.models import LegalAidBooking, LegalAidSlot, MembershipApplication

OFFERED = 6  # how many open slots the worker sees at once
WEEKDAY_NAMES = "一二三四五六日"

MODES = {"in_person": "现场", "online": "线上"}  # how a consultation is held


# -- schedule → slots ------------------------------------------------------------------------

@dataclass(frozen=True)
class WeeklySlot:
    weekday: int  # 0 = Monday
    start: time
    end: time
    capacity: int
    place: str
    mode: str = "in_person"


def _weekday(value) -> int:
    if isinstance(value, int) and 1 <= value <= 7:
        return value - 1
    text = str(value).strip().removeprefix("星期").removeprefix("周")
    if text in ("天", "日"):
        return 6
    if len(text) == 1 and text in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(text)
    raise ValueError(f"weekday must be 1–7 or 周一…周日, not {value!r}")


def _time(value) -> time:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 14:00 as 840 (sexagesimal minutes)
        return time(value // 60, value % 60)
    return time.fromisoformat(str(value).strip())


def load_schedule(path: str | Path) -> list[WeeklySlot]:
    """Read and check the weekly schedule; a mistake names the entry it is in."""
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    schedule = []
    for i, raw in enumerate(entries, 1):
        try:
            slot = WeeklySlot(_weekday(raw["weekday"]), _time(raw["start"]), _time(raw["end"]),
                              int(raw.get("capacity", 3)), str(raw.get("place") or "").strip(),
                              str(raw.get("mode") or "in_person").strip())
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: entry {i}: {exc}") from None
        if slot.end <= slot.start or slot.capacity < 1 or not slot.place:
            raise ValueError(f"{path}: entry {i}: needs start < end, capacity ≥ 1 and a place")
        if slot.mode not in MODES:
            raise ValueError(f"{path}: entry {i}: mode must be one of {', '.join(MODES)}, not {slot.mode!r}")
        schedule.append(slot)
    return schedule


def create_slots(session, schedule: list[WeeklySlot], first_day: date, weeks: int) -> tuple[int, int]:
    """LegalAidSlot rows for `weeks` weeks from first_day; existing (starts_at, place) are kept.

    Returns (created, existing). Slots that have already begun are skipped.
    """
    created = existing = 0
    for offset in range(weeks * 7):
        day = first_day + timedelta(days=offset)
        for entry in schedule:
            if day.weekday() != entry.weekday:
                continue
            starts = datetime.combine(day, entry.start, LOCAL_TZ).astimezone(UTC)
            if starts <= now():
                continue
            found = session.scalars(select(LegalAidSlot.id).where(
                LegalAidSlot.starts_at == starts, LegalAidSlot.place == entry.place)).first()
            if found is not None:
                existing += 1
                continue
            session.add(LegalAidSlot(starts_at=starts, capacity=entry.capacity, place=entry.place, mode=entry.mode,
                                     ends_at=datetime.combine(day, entry.end, LOCAL_TZ).astimezone(UTC)))
            session.flush()
            created += 1
    return created, existing


# -- seats -----------------------------------------------------------------------------------

def _taken(slot_id):
    return (select(func.count(LegalAidBooking.id))
            .where(LegalAidBooking.slot_id == slot_id, LegalAidBooking.status == "booked"))


def describe(slot: LegalAidSlot) -> str:
    """5月23日（周一）14:00–17:00 · 市总工会职工法律服务中心"""
    start, end = aware(slot.starts_at).astimezone(LOCAL_TZ), aware(slot.ends_at).astimezone(LOCAL_TZ)
    when = f"{start.month}月{start.day}日（周{WEEKDAY_NAMES[start.weekday()]}）{start:%H:%M}–{end:%H:%M}"
    return f"{when} · {slot.place}" if slot.place else when


def open_slots(session, worker=None, limit: int = OFFERED) -> list[LegalAidSlot]:
    """The next slots that have not begun and still have a seat (and this worker is not in yet)."""
    taken = _taken(LegalAidSlot.id).scalar_subquery()
    query = (select(LegalAidSlot).where(LegalAidSlot.starts_at > now(), taken < LegalAidSlot.capacity)
             .order_by(LegalAidSlot.starts_at, LegalAidSlot.id).limit(limit))
    if worker is not None:
        query = query.where(~exists().where(LegalAidBooking.slot_id == LegalAidSlot.id,
                                            LegalAidBooking.worker_id == worker.id,
                                            LegalAidBooking.status == "booked"))
    return list(session.scalars(query))


def has_seat(session, slot_id: int) -> bool:
    slot = session.get(LegalAidSlot, slot_id)
    return (slot is not None and aware(slot.starts_at) > now()
            and session.scalar(_taken(slot_id)) < slot.capacity)


def reserve(session, worker, slot_id: int, topic: str, facts: str, phone: str) -> tuple[LegalAidBooking | None, str]:
    """Take a seat: (booking, "") or (None, "full" | "duplicate" | "gone").

    The slot row is locked first (SELECT … FOR UPDATE on PostgreSQL; SQLite transactions here
    begin IMMEDIATE and so are already serialised), then the seats are counted again.
    """
    slot = session.scalars(select(LegalAidSlot).where(LegalAidSlot.id == slot_id).with_for_update()).first()
    if slot is None or aware(slot.starts_at) <= now():
        return None, "gone"
    mine = session.scalar(_taken(slot.id).where(LegalAidBooking.worker_id == worker.id))
    if mine:
        return None, "duplicate"
    if session.scalar(_taken(slot.id)) >= slot.capacity:
        return None, "full"
    booking = LegalAidBooking(worker_id=worker.id, slot_id=slot.id, topic=topic[:32], facts=masking.mask(facts), phone=phone,
                              day=aware(slot.starts_at).astimezone(LOCAL_TZ).date())
    session.add(booking)
    session.flush()
    return booking, ""


# -- the worker's own bookings --------------------------------------------------------------

def upcoming(session, worker) -> list[LegalAidBooking]:
    return list(session.scalars(
        select(LegalAidBooking).join(LegalAidSlot)
        .where(LegalAidBooking.worker_id == worker.id, LegalAidBooking.status == "booked",
               LegalAidSlot.starts_at > now())
        .order_by(LegalAidSlot.starts_at)))


def cancel(session, worker, booking_id: int) -> LegalAidBooking | None:
    """Cancel one of the worker's own upcoming bookings (the seat is free again at once);
    None when it is not theirs, already cancelled or already past."""
    booking = session.get(LegalAidBooking, booking_id)
    if (booking is None or booking.worker_id != worker.id or booking.status != "booked"
            or booking.slot is None or aware(booking.slot.starts_at) <= now()):
        return None
    booking.status, booking.cancelled_at = "cancelled", now()
    return booking


def phone_on_file(session, worker) -> str | None:
    """The mobile number this worker gave most recently (a booking, else their application)."""
    booked = session.scalars(select(LegalAidBooking.phone).where(
        LegalAidBooking.worker_id == worker.id, LegalAidBooking.phone.is_not(None))
        .order_by(LegalAidBooking.id.desc())).first()
    if booked:
        return booked
    return session.scalars(select(MembershipApplication.phone).where(
        MembershipApplication.worker_id == worker.id)).first()
