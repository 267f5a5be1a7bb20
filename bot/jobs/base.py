"""What every job shares: occurrence rows (unique keys), schedule times, quiet hours, queueing a reminder."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot import outbox
from bot.clock import LOCAL_TZ, now
from bot.models import JobOccurrence
from bot.services import reminders

NO_QUIET_HOURS = ("", "off", "none", "0")


class SettingError(ValueError):
    """A job setting (a time of day, the quiet hours) cannot be read."""


def time_of_day(value: str, name: str) -> time:
    """'20:00' → time(20, 0); a clear error naming the setting otherwise."""
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise SettingError(f"{name} must be a time of day like 20:00, not {value!r}") from None


@dataclass(frozen=True)
class QuietHours:
    """No reminder reaches a phone between start and end (Beijing time); the range may wrap midnight."""

    start: time | None
    end: time | None

    @classmethod
    def parse(cls, value: str) -> QuietHours:
        if str(value).strip().lower() in NO_QUIET_HOURS:
            return cls(None, None)
        start, sep, end = str(value).replace("–", "-").partition("-")
        if not sep:
            raise SettingError(f"QUIET_HOURS must look like 22:00-08:00 (or off), not {value!r}")
        return cls(time_of_day(start, "QUIET_HOURS"), time_of_day(end, "QUIET_HOURS"))

    def holds(self, moment: datetime) -> bool:
        if self.start is None or self.start == self.end:
            return False
        t = moment.astimezone(LOCAL_TZ).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def release(self, moment: datetime) -> datetime | None:
        """When a message due at `moment` may be sent: None (now) outside quiet hours, else the end of
        them (in UTC: SQLite keeps a timestamp's wall time and drops its zone)."""
        if not self.holds(moment):
            return None
        local = moment.astimezone(LOCAL_TZ)
        end = datetime.combine(local.date(), self.end, LOCAL_TZ)
        return (end if end > local else end + timedelta(days=1)).astimezone(UTC)


def start_of(day: date) -> datetime:
    """Midnight at the start of a Beijing date, in UTC (how every timestamp is stored)."""
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def insert_once(session, model, unique: str, **values) -> bool:
    """INSERT a row unless one with the same `unique` column value exists; False when it did.

    INSERT … ON CONFLICT DO NOTHING, so two PostgreSQL transactions racing on one key do not fail
    (the second waits for the first to commit, then inserts nothing); SQLite writers are serialised.
    """
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite if dialect == "sqlite" else postgresql).insert
        # RETURNING tells whether a row went in (psycopg reports no rowcount for this INSERT).
        table = model.__table__
        statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=[unique])
        return session.execute(statement.returning(table.c[unique])).first() is not None
    column = getattr(model, unique)
    if session.scalars(select(column).where(column == values[unique])).first() is not None:
        return False
    session.add(model(**values))
    session.flush()
    return True


def occur(session, job: str, key: str, day: date, outcome: str = "done") -> bool:
    """Record one occurrence of a job; False when it exists already (another tick or process made it)."""
    return insert_once(session, JobOccurrence, "key", key=key, job=job, day=day, outcome=outcome, created_at=now())


def existing(session, keys) -> set[str]:
    """Which of these occurrence keys exist already (a few queries, so a tick skips them without writing)."""
    keys, found = list(keys), set()
    for i in range(0, len(keys), 500):  # stay under every database's bound-parameter limit
        found.update(session.scalars(select(JobOccurrence.key).where(JobOccurrence.key.in_(keys[i:i + 500]))))
    return found


@dataclass(frozen=True)
class Context:
    """What a job run is given: the Beijing date, the quiet hours, the app settings, a batch size."""

    day: date
    quiet: QuietHours
    config: dict[str, Any] = field(default_factory=dict)
    batch: int = 500  # subjects per transaction: SQLite's one write lock is never held for long


@dataclass(frozen=True)
class Reminder:
    key: str  # the occurrence key, also the outbox dedupe key
    worker_id: int
    content: str
    expires: datetime | None = None  # when it stops being true (not sent if quiet hours hold it past this)


def tally(counts: dict[str, int], outcome: str) -> None:
    counts[outcome] = counts.get(outcome, 0) + 1


def remind_all(session, ctx: Context, job: str, due: Iterable[Reminder]) -> dict[str, int]:
    """Queue the due reminders not sent yet to workers who get reminders, at most ctx.batch of them."""
    due = list(due)
    done = existing(session, [r.key for r in due])
    due = [r for r in due if r.key not in done]
    wanted = reminders.receivers(session, [r.worker_id for r in due])
    counts: dict[str, int] = {}
    for r in [r for r in due if r.worker_id in wanted][:ctx.batch]:
        tally(counts, remind(session, ctx.quiet, job=job, key=r.key, day=ctx.day, worker_id=r.worker_id,
                             content=r.content, expires=r.expires))
    return counts


def remind(session, quiet: QuietHours, *, job: str, key: str, day: date, worker_id: int, content: str,
           expires: datetime | None = None) -> str:
    """Queue a reminder with its occurrence, in the caller's transaction. Returns the outcome:
    "queued" (send now), "held" (quiet hours: not_before = their end), "skipped" (held past
    `expires`, when it would no longer be true), or "exists" (an earlier tick did it)."""
    held_until = quiet.release(now())
    outcome = "held" if held_until else "queued"
    if held_until and expires and held_until >= expires:
        outcome = "skipped"
    if not occur(session, job, key, day, outcome):
        return "exists"
    if outcome != "skipped":
        extra = {"expires_at": expires.isoformat()} if expires else {}
        outbox.queue(session, worker_id, content, dedupe_key=key, purpose="reminder", not_before=held_until, **extra)
    return outcome
