"""Scheduled jobs: reminders, notices, staff alerts, slots and retention, run by an idempotent tick.

Each job creates rows with unique keys (JobOccurrence; the outbox dedupe key is the same string)
and queues its outbox messages in the same transaction, so a job run twice, or by two processes
at once, creates nothing twice. `tick` runs whatever is due now (times are settings, Beijing
time) while this process holds the scheduler lease (bot/jobs/lease.py). Run it from cron, a
systemd timer, `flask jobs run --loop` or the development server (`flask serve`).

Hand-written rather than APScheduler: its 3.x job stores fire a job in every process that runs a
scheduler and keep no per-subject record, and what is needed here is exactly that record (one
reminder per worker and day) plus a lease in our own database.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time

from flask import current_app

from bot.clock import LOCAL_TZ, local_now
from bot.extensions import db
from bot.jobs import checkins, legal_aid, lease, retention, staff_alerts
from bot.jobs.base import Context, QuietHours, Reminder, SettingError, queue_reminders, time_of_day
from bot.storage import write_transaction

log = logging.getLogger(__name__)
Counts = dict[str, int]
# Reminders per write transaction: at 100 each batch holds SQLite's one write lock ~60 ms of CPU,
# short beside the 5 s WeChat gives a webhook reply; 500 saves ~10 % CPU (bench/jobs.py, bench/README.md).
BATCH = 100


@dataclass(frozen=True)
class Job:
    """A job does one of: `run` (session, Context) -> counts, in one write transaction; `remind`
    (session, Context) -> the reminders due, read without the write lock and then queued
    ctx.batch per transaction; or `run` with own_transactions (network calls outside the lock)."""

    name: str  # also JobOccurrence.job
    run: Callable[..., Counts] | None = None
    remind: Callable[..., list[Reminder]] | None = None
    at: str | None = None  # the setting with the time of day from which it is due; None: every tick
    own_transactions: bool = False


JOBS = (
    Job("legal_aid_slots", legal_aid.slots),
    Job("retention", retention.run, at="RETENTION_TIME"),
    Job("staff_alerts", staff_alerts.create),
    Job("staff_alert_push", staff_alerts.push, own_transactions=True),
    Job("checkin_reminders", remind=checkins.checkin_reminders, at="CHECKIN_REMINDER_TIME"),
    Job("home_office_lapsed", remind=checkins.lapsed_notices, at="CHECKIN_REMINDER_TIME"),
    Job("legal_aid_reminders", remind=legal_aid.booking_reminders, at="LEGAL_AID_REMINDER_TIME"),
    Job("wechat_spool", lambda session, ctx: _drain_spool(session), own_transactions=True),
)


def _drain_spool(session) -> Counts:
    """Deliveries kept while the database was down (bot/webhook.py): handled now that it works; their
    answers go through the outbox."""
    from bot.webhook import drain_spool

    session.rollback()
    return {outcome: n for outcome, n in drain_spool().items() if n}


def schedule(config) -> dict[str, time | None]:
    """Each job's time of day from the settings; a SettingError names a bad one."""
    return {job.name: time_of_day(config.get(job.at, ""), job.at) if job.at else None for job in JOBS}


def run_due(session, config, renew: Callable[[], bool] | None = None, batch: int = BATCH) -> dict[str, Counts | str]:
    """Run every job that is due now. A failing job is rolled back and logged, and the others still
    run (it is tried again on the next tick). Returns {job: counts, or "error: …"} for the jobs
    that did something.

    `renew` is called before each job (the lease); when it returns False (another scheduler took
    over after ours expired) the tick stops there.
    """
    times, quiet = schedule(config), QuietHours.parse(config.get("QUIET_HOURS", ""))
    moment = local_now()
    ctx = Context(day=moment.date(), quiet=quiet, batch=batch, config=dict(config))
    results: dict[str, Counts | str] = {}
    for job in JOBS:
        if times[job.name] is not None and moment.time() < times[job.name]:
            continue
        if renew is not None and not renew():
            log.warning("scheduler lease lost; stopping before %s", job.name)
            results["scheduler"] = f"lease lost: stopped before {job.name}"
            break
        try:
            counts = _run(session, job, ctx)
            if counts:
                results[job.name] = counts
        except Exception as exc:  # noqa: BLE001 – one job's failure must not stop the others
            session.rollback()
            log.exception("job %s failed", job.name)
            results[job.name] = f"error: {exc}"[:300]
    return results


def _run(session, job: Job, ctx: Context) -> Counts:
    if job.own_transactions:
        return job.run(session, ctx)
    if job.remind is None:
        write_transaction(session)
        counts = job.run(session, ctx)
        session.commit()
        return counts
    due = job.remind(session, ctx)
    session.rollback()  # end the read: nobody waits for the write lock while we find who is due
    total: Counts = {}
    for i in range(0, len(due), ctx.batch):
        write_transaction(session)
        for outcome, n in queue_reminders(session, ctx, job.name, due[i:i + ctx.batch]).items():
            total[outcome] = total.get(outcome, 0) + n
        session.commit()
    return total


class Scheduler:
    """One process's scheduler: ticks only while it holds the lease (uses the app's db.session)."""

    def __init__(self, holder: str | None = None):
        self.holder = holder or lease.new_holder()

    def tick(self) -> dict[str, Counts | str] | None:
        """Run what is due once; None when another process holds the lease."""
        config = current_app.config
        seconds = int(config.get("JOBS_LEASE_SECONDS", 300))
        if not lease.acquire(db.session, self.holder, seconds):
            return None
        return run_due(db.session, config, renew=lambda: lease.acquire(db.session, self.holder, seconds))

    def release(self) -> None:
        lease.release(db.session, self.holder)

    def loop(self, stop: threading.Event, interval: float, report: Callable[[dict | None], None] = lambda r: None,
             once: bool = False) -> None:
        """Tick every `interval` seconds until `stop` is set (or once), then give the lease up."""
        try:
            while True:
                try:
                    report(self.tick())
                except SettingError:
                    raise
                except Exception:  # noqa: BLE001 – a database hiccup must not end the scheduler
                    db.session.rollback()
                    log.exception("scheduler tick failed; trying again in %s s", interval)
                if once or stop.wait(interval):
                    return
        finally:
            self.release()


def summary(results: dict[str, Counts | str] | None) -> str:
    """One line per job that did something, for the CLI and the logs."""
    if results is None:
        held = lease.current(db.session)
        db.session.rollback()
        holder = f"{held.holder} until {held.expires_at.astimezone(LOCAL_TZ):%H:%M:%S}" if held else "another scheduler"
        return f"the scheduler lease is held by {holder}; nothing run here"
    lines = [f"{name}: " + (value if isinstance(value, str) else " ".join(f"{k}={n}" for k, n in value.items()))
             for name, value in results.items() if value]
    return "\n".join(lines) or "nothing due"
