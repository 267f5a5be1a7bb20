"""Figures over time for the workbench's insights page: messages, topics, the share answered,
hand-offs and ratings, per local (Beijing) day.

Each series is one GROUP BY over the day a timestamp falls on in China Standard Time, which has
no daylight saving: a fixed +8 hours on SQLite (timestamps are stored as UTC text), `timezone()`
on PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from bot.clock import LOCAL_TZ, local_now
from bot.models import Escalation, Message, RouteLog

PERIODS = (7, 30, 90)  # days the page offers


@dataclass(frozen=True)
class Point:
    day: date
    value: float | None
    count: int = 0  # what the value is made of (answered share: messages routed; rating: ratings)


def days(n: int) -> list[date]:
    today = local_now().date()
    return [today - timedelta(days=i) for i in range(n - 1, -1, -1)]


def since(n: int) -> datetime:
    """The start of the first of the n days, in UTC (SQLite keeps timestamps as UTC text)."""
    return datetime.combine(days(n)[0], time(0), LOCAL_TZ).astimezone(UTC)


def local_day(session, column):
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return func.date(func.timezone("Asia/Shanghai", column))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def per_day(session, column, n: int, *where, agg=None) -> dict[date, float]:
    day = local_day(session, column)
    rows = session.execute(select(day, agg if agg is not None else func.count())
                           .where(column >= since(n), *where).group_by(day)).all()
    return {_as_date(d): v for d, v in rows if d is not None}


def messages(session, n: int) -> list[Point]:
    """Workers' messages per day (everything they sent: text, voice, menu clicks …)."""
    found = per_day(session, Message.created_at, n, Message.direction == "in")
    return [Point(d, found.get(d, 0)) for d in days(n)]


def handoffs(session, n: int) -> list[Point]:
    found = per_day(session, Escalation.created_at, n)
    return [Point(d, found.get(d, 0)) for d in days(n)]


def answered(session, n: int) -> list[Point]:
    """The share of routed questions the router answered (not asked back, not fallen back)."""
    total = per_day(session, RouteLog.created_at, n)
    good = per_day(session, RouteLog.created_at, n, RouteLog.decision == "answer")
    return [Point(d, good.get(d, 0) / total[d] if total.get(d) else None, int(total.get(d, 0))) for d in days(n)]


def ratings(session, n: int) -> list[Point]:
    """The average 1–5 rating of hand-offs, by the day the worker rated."""
    average = per_day(session, Escalation.rated_at, n, Escalation.rating.is_not(None), agg=func.avg(Escalation.rating))
    count = per_day(session, Escalation.rated_at, n, Escalation.rating.is_not(None))
    return [Point(d, float(average[d]) if d in average else None, int(count.get(d, 0))) for d in days(n)]


def topics(session, n: int, top: int = 10) -> list[tuple[str, int]]:
    """The targets questions were answered with most often: (target, count)."""
    rows = session.execute(select(RouteLog.target, func.count()).where(
        RouteLog.created_at >= since(n), RouteLog.decision == "answer", RouteLog.target.is_not(None))
        .group_by(RouteLog.target).order_by(func.count().desc(), RouteLog.target).limit(top)).all()
    return [(target, int(count)) for target, count in rows]
