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


def insert_new(session, model, unique: str, rows: list[dict]) -> set:
    """INSERT the rows whose `unique` column value is not taken yet; returns the values inserted.

    INSERT … ON CONFLICT DO NOTHING RETURNING, one statement per batch, so two PostgreSQL
    transactions racing on one key do not fail (the second waits for the first to commit, then
    inserts nothing); SQLite writers are serialised anyway. RETURNING, because psycopg reports
    no rowcount for this INSERT.
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        table = model.__table__
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
        statement = insert.values(rows).on_conflict_do_nothing(index_elements=[unique]).returning(table.c[unique])
        return set(session.scalars(statement))
    column, inserted = getattr(model, unique), set()
    for values in rows:  # other databases: look, then insert (the unique constraint has the last word)
        if session.scalars(select(column).where(column == values[unique])).first() is None:
            session.add(model(**values))
            session.flush()
            inserted.add(values[unique])
    return inserted


def insert_once(session, model, unique: str, **values) -> bool:
    return bool(insert_new(session, model, unique, [values]))


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
    batch: int  # reminders per write transaction (bot.jobs.BATCH)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reminder:
    key: str  # the occurrence key, also the outbox dedupe key
    worker_id: int
    content: str
    expires: datetime | None = None  # when it stops being true (not sent if quiet hours hold it past this)


def tally(counts: dict[str, int], outcome: str) -> None:
    counts[outcome] = counts.get(outcome, 0) + 1


def still_due(session, due: Iterable[Reminder]) -> list[Reminder]:
    """The reminders not sent yet (no occurrence) to workers who get reminders. Reads only."""
    due = list(due)
    done = existing(session, [r.key for r in due])
    wanted = reminders.receivers(session, [r.worker_id for r in due if r.key not in done])
    return [r for r in due if r.key not in done and r.worker_id in wanted]


def queue_reminders(session, ctx: Context, job: str, batch: list[Reminder]) -> dict[str, int]:
    """Queue a batch of reminders with their occurrences, in the caller's write transaction.

    Counts the outcomes: "queued" (send now), "held" (quiet hours: not_before = their end),
    "skipped" (quiet hours would hold it past `expires`, when it is no longer true) and "exists"
    (another tick or process did it first).
    """
    held_until = ctx.quiet.release(now())

    def outcome(r: Reminder) -> str:
        if held_until and r.expires and held_until >= r.expires:
            return "skipped"
        return "held" if held_until else "queued"

    moment, outcomes = now(), {r.key: outcome(r) for r in batch}
    inserted = insert_new(session, JobOccurrence, "key", [
        dict(key=r.key, job=job, day=ctx.day, outcome=outcomes[r.key], created_at=moment) for r in batch])
    counts: dict[str, int] = {}
    with session.no_autoflush:  # one flush for the batch's outbox rows (their keys are unique in it)
        for r in batch:
            tally(counts, outcomes[r.key] if r.key in inserted else "exists")
            if r.key in inserted and outcomes[r.key] != "skipped":
                extra = {"expires_at": r.expires.isoformat()} if r.expires else {}
                outbox.queue(session, r.worker_id, r.content, dedupe_key=r.key, purpose="reminder",
                             not_before=held_until, **extra)
    session.flush()
    return counts
