"""Retention: delete what the consent notices promise to delete, when they promise it, and nothing else.

- home office (bot/flows/home_office.py CONSENT, "居家办公结束后30天，到期删除"): registrations and
  their check-ins 30 days after the period ended (bot.services.home_office.purge);
- membership (bot/flows/membership.py NOTICE, "申请撤回或未通过的，处理完毕后6个月内删除"): withdrawn
  and rejected applications six months after the withdrawal or the decision
  (bot.services.membership.purge_closed).

What was deleted is written to an audit row (actor "job:retention"): counts per table, never contents.
"""
from __future__ import annotations

from sqlalchemy import func, select

from bot import audit
from bot.jobs.base import Context, occur
from bot.models import HealthCheckin, HomeOfficeRegistration, MembershipApplication
from bot.services import home_office, membership

ACTOR = "job:retention"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def run(session, ctx: Context) -> dict[str, int]:
    """Once a day. The counts per table are measured around home_office.purge (which returns one
    total) inside this write transaction, so nothing else can change them in between."""
    if not occur(session, "retention", f"retention:{ctx.day.isoformat()}", ctx.day):
        return {}
    before = {m: count(session, m) for m in (HomeOfficeRegistration, HealthCheckin)}
    home_office.purge(session, ctx.day)
    session.flush()
    deleted = {m.__tablename__: n - count(session, m) for m, n in before.items()}
    deleted[MembershipApplication.__tablename__] = membership.purge_closed(session, ctx.day)
    audit.record(session, ACTOR, "retention.delete", day=ctx.day.isoformat(), deleted=deleted,
                 rules={"home_office_keep_days": home_office.KEEP_DAYS, "membership_keep_months": membership.KEEP_MONTHS})
    return dict(deleted)
