"""Retention deletes exactly what the consent notices promise, when they promise it, and nothing else."""
from __future__ import annotations

import json

from sqlalchemy import select

from bot.extensions import db
from bot.flows.home_office import CONSENT
from bot.flows.membership import NOTICE
from bot.models import AuditLog, HealthCheckin, HomeOfficeRegistration, MembershipApplication, Worker
from tests.seed import application, checkin, registration, tick, utc, worker


def test_the_promises_are_the_ones_the_notices_make():
    assert "居家办公结束后30天，到期删除" in CONSENT
    assert "申请撤回或未通过的，处理完毕后6个月内删除" in NOTICE


def seed_home_office():
    """Today is 15 July: a period that ended on 14 June is 31 days over, one that ended on 15 June 30."""
    gone = worker("o_ended_31_days_ago")
    old = registration(gone, "2024-06-01", "2024-06-14")
    checkin(gone, "2024-06-13", old), checkin(gone, "2024-06-14", old)
    kept = worker("o_ended_30_days_ago")
    recent = registration(kept, "2024-06-01", "2024-06-15")
    checkin(kept, "2024-06-15", recent)
    early = worker("o_ended_early")  # planned until July, ended by the worker on 13 June
    registration(early, "2024-06-01", "2024-07-10", status="ended", ended_at=utc("2024-06-13 18:00"))
    lapsed = worker("o_lapsed_never_ended")  # still "active", its end date long past
    registration(lapsed, "2024-05-01", "2024-05-31")
    current = worker("o_current")
    now_reg = registration(current, "2024-05-01", "2024-08-31")
    checkin(current, "2024-05-02", now_reg)  # old, but its period has not ended
    loose = worker("o_no_registration")
    checkin(loose, "2024-06-14"), checkin(loose, "2024-06-15")


def seed_membership():
    """Six months before 15 July is 15 January: processed that day or earlier goes, from the 16th stays."""
    application(worker("o_rejected_15_jan"), "rejected", decided="2024-01-15 23:30")
    application(worker("o_rejected_16_jan"), "rejected", decided="2024-01-16 00:30")  # 15 Jan 16:30 UTC
    application(worker("o_withdrawn_15_jan"), "withdrawn", updated="2024-01-15 09:00")
    application(worker("o_withdrawn_16_jan"), "withdrawn", updated="2024-01-16 09:00")
    application(worker("o_approved_long_ago"), "approved", decided="2023-03-01 10:00")
    application(worker("o_pending_long_ago"), "pending", created="2023-03-01 10:00")
    # rejected long ago, then applied again: pending now, so kept
    application(worker("o_reapplied"), "pending", decided=None, updated="2024-07-01 10:00", created="2023-01-01 10:00")


def owners(model):
    return sorted(db.session.scalars(select(Worker.openid).join(model, model.worker_id == Worker.id)).unique())


def test_retention_deletes_what_the_notices_promise_and_keeps_what_is_inside_the_limit(make_app, clock):
    app = make_app(RETENTION_TIME="03:00")
    clock.set("2024-07-15 02:00")
    with app.app_context():
        seed_home_office()
        seed_membership()
        db.session.commit()
    assert "retention" not in tick(app)  # not 03:00 yet
    clock.set("2024-07-15 03:00")
    assert tick(app)["retention"] == {"home_office_registration": 3, "health_checkin": 3,
                                      "membership_application": 2}
    with app.app_context():
        assert owners(HomeOfficeRegistration) == ["o_current", "o_ended_30_days_ago"]
        assert owners(HealthCheckin) == ["o_current", "o_ended_30_days_ago", "o_no_registration"]
        assert sorted(str(d) for d in db.session.scalars(select(HealthCheckin.day))) == [
            "2024-05-02", "2024-06-15", "2024-06-15"]
        assert owners(MembershipApplication) == ["o_approved_long_ago", "o_pending_long_ago", "o_reapplied",
                                                 "o_rejected_16_jan", "o_withdrawn_16_jan"]
        assert len(db.session.scalars(select(Worker)).all()) == 13  # the workers themselves stay
        db.session.remove()

    clock.set("2024-07-16 03:00")  # one day on, the rows at the limit go
    assert tick(app)["retention"] == {"home_office_registration": 1, "health_checkin": 2,
                                      "membership_application": 2}


def test_retention_writes_counts_to_the_audit_log_never_contents(make_app, clock):
    app = make_app()
    clock.set("2024-07-15 03:00")
    with app.app_context():
        seed_home_office()
        seed_membership()
        db.session.commit()
    tick(app)
    tick(app)  # once a day
    with app.app_context():
        row = db.session.scalars(select(AuditLog).where(AuditLog.actor == "job:retention")).one()
        assert row.action == "retention.delete"
        assert row.detail["deleted"] == {"home_office_registration": 3, "health_checkin": 3,
                                         "membership_application": 2}
        assert row.detail["rules"] == {"home_office_keep_days": 30, "membership_keep_months": 6}
        text = json.dumps(row.detail, ensure_ascii=False)
        assert not any(secret in text for secret in ("张三", "13800138000", "和平里", "某科技公司", "o_"))
        db.session.remove()


def test_retention_runs_every_day_and_writes_a_row_even_when_nothing_was_due(make_app, clock):
    app = make_app()
    clock.set("2024-07-15 03:00")
    assert tick(app)["retention"] == {"home_office_registration": 0, "health_checkin": 0,
                                      "membership_application": 0}
    clock.set("2024-07-16 03:00")
    tick(app)
    with app.app_context():
        assert [r.detail["day"] for r in db.session.scalars(select(AuditLog).order_by(AuditLog.id))] == [
            "2024-07-15", "2024-07-16"]
        db.session.remove()
