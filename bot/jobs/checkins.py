"""Home-office jobs: the daily check-in reminder, and a notice when a registered period lapses."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.jobs.base import Context, Reminder, start_of, still_due
from bot.models import HomeOfficeRegistration
from bot.services import home_office

CHECKIN_REMINDER = ("【健康打卡提醒】您{day}的健康打卡还没有完成，回复「打卡」即可开始。\n"
                    "不想再收到提醒，回复「退订提醒」。")
LAPSED_NOTICE = ("【居家办公到期】您报备的居家办公已于{end}到期。回复「打卡」可以选择延长或结束居家办公。\n"
                 "不想再收到提醒，回复「退订提醒」。")


def md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def checkin_reminders(session, ctx: Context) -> list[Reminder]:
    """Remind every worker whose active registration covers today and who has not checked in today.

    A reminder that quiet hours would hold past the end of the day is not sent at all: it would
    be about a day that is over.
    """
    day = ctx.day
    due = {r.worker_id: Reminder(f"checkin_reminder:{r.worker_id}:{day.isoformat()}", r.worker_id,
                                 CHECKIN_REMINDER.format(day=md(day)), expires=start_of(day + timedelta(days=1)))
           for r in home_office.due_checkins(session, day)}  # one per worker, even with two registrations
    return still_due(session, due.values())


def lapsed_notices(session, ctx: Context) -> list[Reminder]:
    """Tell a worker once when their period has ended but was neither extended nor ended (still active)."""
    lapsed = session.scalars(select(HomeOfficeRegistration).where(
        HomeOfficeRegistration.status == "active", HomeOfficeRegistration.end_date < ctx.day)
        .order_by(HomeOfficeRegistration.id))
    # Keyed by the end date too: a period extended and lapsed again gets a new notice.
    return still_due(session, (
        Reminder(f"home_office_lapsed:{r.id}:{r.end_date.isoformat()}", r.worker_id,
                 LAPSED_NOTICE.format(end=md(r.end_date))) for r in lapsed))
