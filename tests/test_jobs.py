"""Scheduled jobs: who is reminded when, quiet hours, once however often the tick runs, and the lease."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import jobs
from bot.clock import local_now, now
from bot.extensions import db
from bot.jobs.base import QuietHours, SettingError
from bot.models import (AuditLog, Escalation, HomeOfficeRegistration, JobOccurrence, KeyValue, LegalAidSlot, Outbox,
                        StaffAlert)
from bot.services import home_office
from tests.seed import at, booking, checkin, count, outbox_rows, registration, tick, worker

ROOT = Path(__file__).resolve().parent.parent


def reminders_to(app, purpose="reminder"):
    return [openid for _key, openid, *_ in outbox_rows(app, purpose=purpose)]


def contents(app) -> list[str]:
    with app.app_context():
        found = [o.payload["content"] for o in db.session.scalars(select(Outbox).order_by(Outbox.id))]
        db.session.remove()
    return found


# -- the daily check-in reminder ----------------------------------------------------------------
def test_checkin_reminder_goes_at_the_set_time_to_those_who_have_not_checked_in(make_app, clock):
    app = make_app(CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 19:59")
    with app.app_context():
        registration(worker("o_due"), "2024-05-18", "2024-05-25")
        done = worker("o_checked_in")
        checkin(done, "2024-05-20", registration(done, "2024-05-18", "2024-05-25"))
        registration(worker("o_starts_tomorrow"), "2024-05-21", "2024-05-25")
        registration(worker("o_ended_early"), "2024-05-10", "2024-05-25", status="ended")
        registration(worker("o_unfollowed", subscribed=False), "2024-05-18", "2024-05-25")
        registration(worker("o_opted_out", reminders_off=True), "2024-05-18", "2024-05-25")
        db.session.commit()

    assert "checkin_reminders" not in tick(app)  # 19:59: not due yet
    clock.set("2024-05-20 20:00")
    assert tick(app)["checkin_reminders"] == {"queued": 1}
    assert reminders_to(app) == ["o_due"]
    assert "5月20日的健康打卡还没有完成" in contents(app)[0] and "退订提醒" in contents(app)[0]

    clock.set("2024-05-20 21:30")
    tick(app)
    assert reminders_to(app) == ["o_due"]  # once a day, however many ticks
    clock.set("2024-05-21 20:00")
    tick(app)
    assert reminders_to(app) == ["o_due", "o_due", "o_checked_in", "o_starts_tomorrow"]


def test_a_lapsed_period_gets_one_notice_and_a_new_one_after_an_extension_lapses(make_app, clock):
    app = make_app(CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 20:00")
    with app.app_context():
        lapsed = registration(worker("o_lapsed"), "2024-05-10", "2024-05-19")
        registration(worker("o_ended"), "2024-05-10", "2024-05-19", status="ended")
        db.session.commit()
        lapsed_id = lapsed.id
    assert tick(app)["home_office_lapsed"] == {"queued": 1}
    assert reminders_to(app) == ["o_lapsed"]  # and no check-in reminder: the period is over
    assert "已于5月19日到期" in contents(app)[0] and "回复「打卡」" in contents(app)[0]
    clock.set("2024-05-21 20:00")
    tick(app)
    assert reminders_to(app) == ["o_lapsed"]

    with app.app_context():  # the worker extends to the 22nd, then lets it lapse again
        home_office.extend(db.session.get(HomeOfficeRegistration, lapsed_id), date(2024, 5, 22))
        db.session.commit()
    clock.set("2024-05-22 20:00")
    tick(app)
    assert [k.split(":")[0] for k, *_ in outbox_rows(app)] == ["home_office_lapsed", "checkin_reminder"]
    clock.set("2024-05-23 20:00")
    tick(app)
    assert [k for k, *_ in outbox_rows(app)][-1] == f"home_office_lapsed:{lapsed_id}:2024-05-22"
    assert "已于5月22日到期" in contents(app)[-1]


# -- legal aid ----------------------------------------------------------------------------------
def test_legal_aid_reminder_the_day_before_each_booking(make_app, clock):
    app = make_app(LEGAL_AID_REMINDER_TIME="10:00")
    clock.set("2024-05-20 10:00")
    with app.app_context():
        booking(worker("o_tomorrow"), "2024-05-21 14:00")
        booking(worker("o_cancelled"), "2024-05-21 14:00", status="cancelled")
        booking(worker("o_later"), "2024-05-22 09:00")
        db.session.commit()
    assert tick(app)["legal_aid_reminders"] == {"queued": 1}
    assert reminders_to(app) == ["o_tomorrow"]
    assert "明天：5月21日（周二）14:00–17:00" in contents(app)[0] and "取消预约" in contents(app)[0]
    clock.set("2024-05-21 10:00")
    tick(app)
    assert reminders_to(app) == ["o_tomorrow", "o_later"]


def test_slots_for_the_coming_weeks_are_made_once_a_day(make_app, clock):
    app = make_app(LEGAL_AID_SLOT_WEEKS=2)
    clock.set("2024-05-20 00:05")  # a Monday; config/legal_aid_slots.yaml: Tue, Thu, Sat
    assert tick(app)["legal_aid_slots"] == {"created": 6, "existing": 0}
    assert "legal_aid_slots" not in tick(app)  # the day's run is done
    clock.set("2024-05-22 00:05")  # two weeks from Wednesday reach Tuesday 4 June
    assert tick(app)["legal_aid_slots"] == {"created": 1, "existing": 5}
    assert count(app, LegalAidSlot) == 7


def test_a_failing_job_does_not_stop_the_others_and_is_tried_again(make_app, clock, tmp_path):
    schedule = tmp_path / "slots.yaml"
    schedule.write_text("- weekday: 周八\n  start: '14:00'\n  end: '17:00'\n  place: 中心\n", encoding="utf-8")
    app = make_app(LEGAL_AID_SCHEDULE_FILE=str(schedule), CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 20:00")
    with app.app_context():
        registration(worker("o_due"), "2024-05-18", "2024-05-25")
        db.session.commit()
    results = tick(app)
    assert results["legal_aid_slots"].startswith("error:") and "entry 1" in results["legal_aid_slots"]
    assert results["checkin_reminders"] == {"queued": 1}
    with app.app_context():  # the failed run left nothing behind
        assert db.session.scalars(select(JobOccurrence.job).where(JobOccurrence.job == "legal_aid_slots")).all() == []
        db.session.remove()
    schedule.write_text("- weekday: 周二\n  start: '14:00'\n  end: '17:00'\n  place: 中心\n", encoding="utf-8")
    assert tick(app)["legal_aid_slots"] == {"created": 2, "existing": 0}


# -- quiet hours ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("setting", "due", "held_until"), [
    ("22:00-08:00", "2024-05-20 23:00", "2024-05-21 08:00"),
    ("22:00-08:00", "2024-05-21 07:59", "2024-05-21 08:00"),
    ("22:00-08:00", "2024-05-21 08:00", None),
    ("22:00-08:00", "2024-05-20 21:59", None),
    ("22:00–07:30", "2024-05-20 22:00", "2024-05-21 07:30"),  # an en dash, as people type it
    ("12:00-14:00", "2024-05-20 13:00", "2024-05-20 14:00"),
    ("off", "2024-05-20 23:00", None),
])
def test_quiet_hours_hold_a_message_until_they_end(setting, due, held_until):
    release = QuietHours.parse(setting).release(at(due))
    assert (release.astimezone(at(due).tzinfo).strftime("%Y-%m-%d %H:%M") if release else None) == held_until


@pytest.mark.parametrize("setting", ["22:00", "25:00-08:00", "晚上十点到早八点"])
def test_quiet_hours_that_cannot_be_read_are_refused(setting):
    with pytest.raises(SettingError, match="QUIET_HOURS"):
        QuietHours.parse(setting)


def test_a_reminder_due_at_2300_is_held_until_0800(make_app, wechat_api, clock):
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    app = make_app(LEGAL_AID_REMINDER_TIME="23:00", QUIET_HOURS="22:00-08:00",
                   WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret")
    clock.set("2024-05-20 23:00")
    with app.app_context():
        booking(worker("o_night", last_seen_at=now()), "2024-05-21 14:00")  # window open: customer-service
        db.session.commit()
    assert tick(app)["legal_aid_reminders"] == {"held": 1}
    assert [row[1:] for row in outbox_rows(app)] == [("o_night", "reminder", "2024-05-21 08:00")]

    def sent():
        return [json.loads(r.get_data())["touser"] for r, _ in wechat_api.log if r.path.endswith("/custom/send")]

    clock.set("2024-05-21 07:59")
    app.test_cli_runner().invoke(args=["outbox", "send"])
    assert sent() == []
    clock.set("2024-05-21 08:00")
    app.test_cli_runner().invoke(args=["outbox", "send"])
    assert sent() == ["o_night"]


def test_a_reminder_quiet_hours_would_hold_past_its_day_is_not_sent(make_app, clock):
    app = make_app(CHECKIN_REMINDER_TIME="21:30", QUIET_HOURS="21:00-07:00")
    clock.set("2024-05-20 21:30")
    with app.app_context():
        registration(worker("o_late"), "2024-05-18", "2024-05-25")
        db.session.commit()
    assert tick(app)["checkin_reminders"] == {"skipped": 1}
    clock.set("2024-05-20 23:00")
    assert "checkin_reminders" not in tick(app)
    assert outbox_rows(app) == []


def test_a_setting_that_cannot_be_read_stops_the_tick_with_its_name(make_app):
    result = make_app(CHECKIN_REMINDER_TIME="晚上8点").test_cli_runner().invoke(args=["jobs", "tick"])
    assert result.exit_code == 1 and "CHECKIN_REMINDER_TIME" in result.output


# -- once, however often and by however many ------------------------------------------------------
def seed_everything_due(app, today: date) -> None:
    """A check-in reminder, a lapsed period, a booking tomorrow, an open escalation and retention work."""
    day = today.isoformat
    with app.app_context():
        registration(worker("o_checkin"), day(), (today + timedelta(days=3)).isoformat())
        registration(worker("o_lapsed"), (today - timedelta(days=9)).isoformat(), (today - timedelta(days=1)).isoformat())
        registration(worker("o_expired"), (today - timedelta(days=60)).isoformat(),
                     (today - timedelta(days=40)).isoformat(), status="ended")
        booking(worker("o_booked"), f"{today + timedelta(days=1)} 14:00")
        db.session.add(Escalation(worker_id=worker("o_handoff").id, reason="asked"))
        db.session.commit()
        db.session.remove()


TABLES = (JobOccurrence, Outbox, LegalAidSlot, StaffAlert, AuditLog)


def test_a_tick_run_twice_creates_nothing_twice(make_app, clock):
    app = make_app()  # the default times: everything is due at 21:00, outside quiet hours
    clock.set("2024-05-20 21:00")
    seed_everything_due(app, date(2024, 5, 20))
    first = app.test_cli_runner().invoke(args=["jobs", "tick"])
    assert first.exit_code == 0, first.output
    for line in ("checkin_reminders: queued=1", "home_office_lapsed: queued=1", "legal_aid_reminders: queued=1",
                 "staff_alerts: created=1", "retention: home_office_registration=1"):
        assert line in first.output, first.output
    before = {m.__name__: count(app, m) for m in TABLES}
    second = app.test_cli_runner().invoke(args=["jobs", "tick"])
    assert second.output.strip() == "nothing due"
    assert {m.__name__: count(app, m) for m in TABLES} == before
    assert sorted(reminders_to(app)) == ["o_booked", "o_checkin", "o_lapsed"]


def flask(app, *args, **env):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                            env={**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


ALL_DUE_NOW = {"CHECKIN_REMINDER_TIME": "00:00", "LEGAL_AID_REMINDER_TIME": "00:00", "RETENTION_TIME": "00:00",
               "QUIET_HOURS": "off"}


@pytest.mark.slow
def test_two_processes_ticking_at_once_create_nothing_twice(app):
    seed_everything_due(app, local_now().date())  # real time: the processes cannot share a fake clock
    procs = [flask(app, "jobs", "tick", **ALL_DUE_NOW) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum("checkin_reminders: queued=1" in out for out in outputs) == 1, outputs
    assert sorted(reminders_to(app)) == ["o_booked", "o_checkin", "o_lapsed"]
    with app.app_context():
        keys = db.session.scalars(select(JobOccurrence.key)).all()
        assert len(keys) == len(set(keys))
        assert db.session.scalar(select(StaffAlert.escalation_id)) is not None
        assert len(db.session.scalars(select(AuditLog).where(AuditLog.actor == "job:retention")).all()) == 1
        assert db.session.get(KeyValue, "jobs:scheduler-lease") is None  # each tick gave the lease up
        db.session.remove()


# -- the lease ---------------------------------------------------------------------------------------
def test_a_second_scheduler_runs_nothing_while_the_first_holds_the_lease_and_takes_over_when_it_expires(
        make_app, clock):
    app = make_app(JOBS_LEASE_SECONDS=300, CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 20:00")
    assert tick(app, "scheduler-a") is not None
    with app.app_context():
        registration(worker("o_new"), "2024-05-20", "2024-05-25")
        db.session.commit()
    assert tick(app, "scheduler-b") is None  # A holds the lease (for 300 s from 20:00)
    clock.advance(seconds=299)
    assert tick(app, "scheduler-b") is None
    assert reminders_to(app) == []  # B ran nothing
    clock.advance(seconds=2)  # A stopped ticking: its lease has expired
    assert tick(app, "scheduler-b")["checkin_reminders"] == {"queued": 1}
    assert tick(app, "scheduler-a") is None  # and now B holds it
    with app.app_context():
        jobs.Scheduler("scheduler-b").release()
    assert tick(app, "scheduler-a") is not None  # given up: taken at once


def test_a_scheduler_that_lost_the_lease_stops_before_the_next_job(app):
    with app.app_context():
        assert jobs.run_due(db.session, app.config, renew=lambda: False) == {
            "scheduler": "lease lost: stopped before legal_aid_slots"}
        db.session.remove()
    assert count(app, JobOccurrence) == count(app, LegalAidSlot) == 0


def test_a_one_off_tick_reports_who_holds_the_lease(app):
    tick(app, "web-1:4242:loop")
    result = app.test_cli_runner().invoke(args=["jobs", "tick"])
    assert result.exit_code == 0 and "held by web-1:4242:loop" in result.output


@pytest.mark.slow
def test_jobs_run_loop_keeps_ticking_and_gives_the_lease_up_on_sigterm(app):
    proc = flask(app, "jobs", "run", "--loop", "--interval", "0.2", **ALL_DUE_NOW)
    try:
        deadline = time.monotonic() + 60
        while True:
            with app.app_context():
                lease = db.session.get(KeyValue, "jobs:scheduler-lease")
                ran = db.session.scalar(select(JobOccurrence.id).where(JobOccurrence.job == "retention"))
                db.session.remove()
            if lease is not None and ran is not None:
                break
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, output
    with app.app_context():
        assert db.session.get(KeyValue, "jobs:scheduler-lease") is None
        db.session.remove()
