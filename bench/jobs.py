"""How long the scheduled jobs take to fan reminders out, and how long each holds SQLite's write lock.

    .venv/bin/python bench/jobs.py                # 10,000 workers due a check-in reminder
    .venv/bin/python bench/jobs.py -n 2000 --batch 200

A fresh SQLite file (the project's migrations) gets N workers with an active home-office period
and no check-in today. Then, as the scheduler does it (bot.jobs.run_due, default settings, all
jobs due): the first tick queues N reminders (N occurrence rows + N outbox rows, ctx.batch per
transaction); the second tick finds everything done. Printed: wall and CPU time per tick, reminders per
second, and the longest and median write transaction (BEGIN IMMEDIATE … COMMIT), which is how
long a webhook message may have to wait for the lock while a tick runs (WeChat gives 5 s).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from bot import jobs  # noqa: E402
from bot.clock import local_now  # noqa: E402
from bot.extensions import db  # noqa: E402
from bot.models import HomeOfficeRegistration, Outbox, Worker  # noqa: E402
from bot.storage import WRITE_OPTION  # noqa: E402


def seed(n: int) -> None:
    today = local_now().date()
    db.session.execute(insert(Worker), [{"openid": f"o_bench_{i}", "subscribed": True} for i in range(n)])
    ids = db.session.scalars(select(Worker.id)).all()
    db.session.execute(insert(HomeOfficeRegistration), [
        {"worker_id": i, "employer": "某公司", "community": "某社区", "address": "某地址", "start_date": today,
         "end_date": today + timedelta(days=7), "reported_to_community": True, "status": "active"} for i in ids])
    db.session.commit()


def watch_writes(engine) -> list[float]:
    """How long each write transaction holds the lock (seconds), from BEGIN IMMEDIATE to COMMIT or ROLLBACK."""
    spans, started = [], {}

    @event.listens_for(engine, "begin")
    def begin(conn):
        if conn.get_execution_options().get(WRITE_OPTION):
            started[id(conn)] = time.perf_counter()

    def end(conn):
        if id(conn) in started:
            spans.append(time.perf_counter() - started.pop(id(conn)))

    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)
    return spans


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", type=int, default=10_000, help="workers due a reminder (10000)")
    p.add_argument("--batch", type=int, default=jobs.BATCH, help=f"reminders per transaction ({jobs.BATCH}, the scheduler's)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from flask_migrate import upgrade

        app = create_app({"DATABASE_URL": f"sqlite:///{Path(tmp) / 'bot.sqlite'}", "CHECKIN_REMINDER_TIME": "00:00",
                          "LEGAL_AID_REMINDER_TIME": "00:00", "RETENTION_TIME": "00:00", "QUIET_HOURS": "off"})
        with app.app_context():
            upgrade()
            seed(args.n)
            spans = watch_writes(db.engine)
            print(f"{args.n} workers due a check-in reminder, batch {args.batch}, SQLite WAL in {tmp}")
            for label in ("first tick", "second tick"):
                spans.clear()
                t0, c0 = time.perf_counter(), time.process_time()
                results = jobs.run_due(db.session, app.config, batch=args.batch)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                queued = results.get("checkin_reminders", {}).get("queued", 0)
                rate = f"{queued / wall:6.0f} reminders/s ({queued / cpu:6.0f} per CPU-s)" if queued else " " * 35
                print(f"  {label:12} {wall:6.2f} s wall {cpu:6.2f} s CPU  {rate}  write transactions {len(spans):3}, "
                      f"longest {max(spans) * 1000:6.1f} ms, median {statistics.median(spans) * 1000:6.1f} ms")
            assert db.session.scalar(select(func.count()).select_from(Outbox)) == args.n
        print(f"load average while it ran: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
