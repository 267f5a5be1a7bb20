"""Legal-aid consultations: slots from the weekly schedule, open seats, booking, 我的预约 and cancelling.

Slots are rows (LegalAidSlot) made from config/legal_aid_slots.yaml by `flask legal-aid slots`;
a booking takes a seat only inside the transaction that locks the slot row, so two workers
confirming the last seat at once cannot both get it.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import click
import yaml
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import exists, func, select

from bot.clock import LOCAL_TZ, aware, local_now, now
from bot.config_files import WEEKDAY_NAMES, LegalAidSchedule, WeeklySlot, read
from bot.flows.steps import simple
from bot.models import LegalAidBooking, LegalAidSlot

OFFERED = 6  # how many open slots the worker sees at once

NO_BOOKINGS = "您目前没有待参加的法律援助预约。回复「法律援助」即可预约律师咨询。"
MY_BOOKINGS = "您的法律援助预约：\n{listing}\n请带上劳动合同、工资条、聊天记录等材料按时到场。需要取消请回复「取消预约」。"
PICK_TO_CANCEL = "要取消哪个预约？回复序号，例如：1\n{listing}\n不取消的话，不用回复。"
CANCELLED = "已取消您 {when} 的法律援助预约，名额已释放。需要时可以回复「法律援助」重新预约。"
ALREADY_GONE = "这个预约已经取消或已过期，不用再取消了。\n\n"

# -- schedule → slots ------------------------------------------------------------------------

def load_schedule(path: str | Path) -> list[WeeklySlot]:
    """Read and check the weekly schedule (bot.config_files); a mistake names the entry it is in."""
    return read(path, LegalAidSchedule).root


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
            session.add(LegalAidSlot(starts_at=starts, capacity=entry.capacity, place=entry.place,
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
    booking = LegalAidBooking(worker_id=worker.id, slot_id=slot.id, topic=topic[:32], facts=facts, phone=phone,
                              day=aware(slot.starts_at).astimezone(LOCAL_TZ).date())
    session.add(booking)
    session.flush()
    return booking, ""


# -- 我的预约 / 取消预约 -----------------------------------------------------------------------

def upcoming(session, worker) -> list[LegalAidBooking]:
    return list(session.scalars(
        select(LegalAidBooking).join(LegalAidSlot)
        .where(LegalAidBooking.worker_id == worker.id, LegalAidBooking.status == "booked",
               LegalAidSlot.starts_at > now())
        .order_by(LegalAidSlot.starts_at)))


def _listing(bookings: list[LegalAidBooking]) -> str:
    return "\n".join(f"{i}. {describe(b.slot)}（{b.topic}）" for i, b in enumerate(bookings, 1))


def cancel(session, worker, booking_id: int) -> str:
    """Cancel one of the worker's own upcoming bookings; the seat is free again at once."""
    booking = session.get(LegalAidBooking, booking_id)
    if (booking is None or booking.worker_id != worker.id or booking.status != "booked"
            or booking.slot is None or aware(booking.slot.starts_at) <= now()):
        return ALREADY_GONE + bookings_text(session, worker)
    booking.status, booking.cancelled_at = "cancelled", now()
    return CANCELLED.format(when=describe(booking.slot))


def bookings_text(session, worker) -> str:
    bookings = upcoming(session, worker)
    return MY_BOOKINGS.format(listing=_listing(bookings)) if bookings else NO_BOOKINGS


def respond(engine, target: str) -> str:
    """Carry out a legal_aid.* target: list, offer a numbered cancel choice, or cancel one."""
    session, worker = engine.session, engine.worker
    if target.startswith("legal_aid.cancel:"):
        return cancel(session, worker, int(target.rsplit(":", 1)[1]))
    if target == "legal_aid.cancel":
        bookings = upcoming(session, worker)
        if not bookings:
            return NO_BOOKINGS
        engine.set_context(choices=[f"legal_aid.cancel:{b.id}" for b in bookings])
        return PICK_TO_CANCEL.format(listing=_listing(bookings))
    return bookings_text(session, worker)


# -- flask legal-aid slots ---------------------------------------------------------------------

@click.group("legal-aid")
def legal_aid_cli() -> None:
    """Legal-aid consultation slots."""


@legal_aid_cli.command("slots")
@click.option("--weeks", default=2, show_default=True, type=click.IntRange(1, 26), help="How many weeks ahead.")
@click.option("--schedule", "schedule_file", type=click.Path(exists=True, dir_okay=False),
              help="Weekly schedule (default: config/legal_aid_slots.yaml).")
@with_appcontext
def slots_command(weeks: int, schedule_file: str | None) -> None:
    """Create the consultation slots of the coming weeks from the weekly schedule (idempotent)."""
    from bot.extensions import db

    path = schedule_file or Path(current_app.root_path) / "config" / "legal_aid_slots.yaml"
    try:
        schedule = load_schedule(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise click.ClickException(str(exc)) from None
    created, existing = create_slots(db.session, schedule, local_now().date(), weeks)
    db.session.commit()
    click.echo(f"新建 {created} 个咨询时段，已存在 {existing} 个（{weeks} 周，排班 {len(schedule)} 条）。")
