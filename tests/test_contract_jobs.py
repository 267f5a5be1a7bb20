"""Job contracts on every supported database: schedulers racing without the lease still create
nothing twice, and of schedulers racing for the lease exactly one gets it (see test_contract_storage)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import jobs
from bot.clock import local_now
from bot.extensions import db
from bot.jobs import lease
from bot.models import Escalation, JobOccurrence, LegalAidSlot, Outbox, StaffAlert
from tests.support import run_together
from tests.seed import booking, registration, worker
from tests.test_contract_storage import BACKENDS, Backend, slow_writes

ALL_DUE_NOW = {"CHECKIN_REMINDER_TIME": "00:00", "LEGAL_AID_REMINDER_TIME": "00:00", "RETENTION_TIME": "00:00",
               "QUIET_HOURS": "off"}


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, template_db):
    b = Backend(request.param, tmp_path, template_db)
    yield b
    b.close()


def seed(app, workers: int) -> None:
    today = local_now().date()
    with app.app_context():
        for i in range(workers):
            registration(worker(f"o_due_{i}"), today.isoformat(), (today + timedelta(days=2)).isoformat())
        booking(worker("o_booked"), f"{today + timedelta(days=1)} 14:00")
        db.session.add(Escalation(worker_id=worker("o_handoff").id, reason="asked"))
        db.session.commit()
        db.session.remove()


def test_schedulers_racing_without_the_lease_create_nothing_twice(backend):
    backend.migrate()
    app = backend.app(**ALL_DUE_NOW)
    seed(app, workers=30)

    def scheduler(_i):
        with app.app_context():
            try:
                return jobs.run_due(db.session, app.config, batch=7)  # small batches: they interleave
            finally:
                db.session.remove()

    with slow_writes(app, "job_occurrence", seconds=0.01):
        results = run_together(3, scheduler)
    assert not [r for result in results for r in result.values() if isinstance(r, str)], results  # no errors
    with app.app_context():
        reminders = db.session.execute(select(Outbox.dedupe_key, func.count()).group_by(Outbox.dedupe_key)).all()
        assert len(reminders) == 31 and {n for _, n in reminders} == {1}  # 30 check-ins + 1 booking, once each
        assert db.session.scalar(select(func.count()).select_from(StaffAlert)) == 1
        keys = db.session.scalars(select(JobOccurrence.key)).all()
        assert len(keys) == len(set(keys)) == 33  # + the day's slots run and retention run
        starts = db.session.execute(select(LegalAidSlot.starts_at, LegalAidSlot.place)).all()
        assert len(starts) == len(set(starts))
        db.session.remove()
    assert sum(r.get("checkin_reminders", {}).get("queued", 0) for r in results) == 30


def test_of_schedulers_racing_for_the_lease_exactly_one_gets_it(backend):
    backend.migrate()
    app = backend.app()

    def take(i):
        with app.app_context():
            try:
                return lease.acquire(db.session, f"scheduler-{i}", 300)
            finally:
                db.session.remove()

    for _round in range(3):
        assert sorted(run_together(4, take)) == [False, False, False, True]
        with app.app_context():
            holder = lease.current(db.session).holder
            lease.release(db.session, holder)
            db.session.remove()
