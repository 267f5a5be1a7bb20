"""Legal-aid jobs: the reminder the day before a booking, and the coming weeks' slots from the schedule."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from bot.clock import aware
from bot.jobs.base import Context, Reminder, occur, still_due
from bot.models import LegalAidBooking
from bot.services import legal_aid

BOOKING_REMINDER = ("【法律援助预约提醒】您预约的律师咨询在明天：{slot}（{topic}）。\n"
                    "请带上劳动合同、工资条、聊天记录等材料按时到场。需要取消请回复「取消预约」。\n"
                    "不想再收到提醒，回复「退订提醒」。")


def booking_reminders(session, ctx: Context) -> list[Reminder]:
    """Remind each worker of a booking tomorrow, once per booking (not sent once the slot has begun)."""
    bookings = session.scalars(select(LegalAidBooking).where(
        LegalAidBooking.status == "booked", LegalAidBooking.day == ctx.day + timedelta(days=1),
        LegalAidBooking.slot_id.is_not(None)).order_by(LegalAidBooking.id))
    return still_due(session, (
        Reminder(f"legal_aid_reminder:{b.id}", b.worker_id,
                 BOOKING_REMINDER.format(slot=legal_aid.describe(b.slot), topic=b.topic),
                 expires=aware(b.slot.starts_at)) for b in bookings))


def schedule_path(config) -> Path:
    return Path(config.get("LEGAL_AID_SCHEDULE_FILE") or Path(current_app.root_path) / "config" / "legal_aid_slots.yaml")


def slots(session, ctx: Context) -> dict[str, int]:
    """Once a day: the slots of the coming LEGAL_AID_SLOT_WEEKS weeks (existing ones are kept).

    A schedule file with a mistake fails the job with the entry named; the next tick tries again.
    """
    if not occur(session, "legal_aid_slots", f"legal_aid_slots:{ctx.day.isoformat()}", ctx.day):
        return {}
    weeks = int(ctx.config.get("LEGAL_AID_SLOT_WEEKS", 2))
    created, kept = legal_aid.create_slots(session, legal_aid.load_schedule(schedule_path(ctx.config)), ctx.day, weeks)
    return {"created": created, "existing": kept}
