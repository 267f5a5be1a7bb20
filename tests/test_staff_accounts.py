"""Staff accounts: `flask staff …`, the admin's account page, and the rules that keep one admin."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot.extensions import db
from bot.models import AuditLog, StaffUser
from tests.support import PRODUCTION


def test_flask_staff_create_prints_a_password_that_logs_in(app, runner, client):
    result = runner.invoke(args=["staff", "create", "zhao", "--role", "admin", "--name", "赵主任"])
    assert result.exit_code == 0, result.output
    password = re.search(r"初始密码：(\S+)", result.output).group(1)
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/staff/login", data={"csrf_token": token, "login": "zhao", "password": password})
    assert response.status_code == 302
    assert "赵主任（管理员）" in client.get("/staff/inbox").get_data(as_text=True)
    again = runner.invoke(args=["staff", "create", "zhao"])
    assert again.exit_code != 0 and "已存在" in again.output
    bad = runner.invoke(args=["staff", "create", "Zhao Li"])
    assert bad.exit_code != 0 and "登录名须为" in bad.output


def test_first_run_creates_a_demo_admin_in_development_only(make_app):
    dev = make_app().test_cli_runner().invoke(args=["staff", "first-run"])
    assert "演示管理员：登录名 demo  密码" in dev.output
    assert "已有账号" in make_app().test_cli_runner().invoke(args=["staff", "first-run"]).output


def test_first_run_in_production_only_says_how(make_app):
    app = make_app(**PRODUCTION)
    result = app.test_cli_runner().invoke(args=["staff", "first-run"])
    assert "flask staff create LOGIN --role admin" in result.output and "demo" not in result.output
    with app.app_context():
        assert db.session.scalars(select(StaffUser)).all() == []


def test_flask_staff_password_unlocks_and_replaces_the_password(app, runner, desk):
    wang = desk("wang")
    result = runner.invoke(args=["staff", "password", "wang"])
    assert "新密码" in result.output
    assert wang.get("/staff/inbox").status_code == 302  # the old session ended


def test_an_admin_creates_and_deactivates_an_account(desk, app):
    boss = desk("boss", role="admin")
    page = boss.post("/staff/accounts", {"login": "li", "name": "李敏", "role": "staff"},
                     follow_redirects=True).get_data(as_text=True)
    assert "已创建账号 li" in page and "初始密码" in page
    with app.app_context():
        li_id = db.session.scalars(select(StaffUser.id).where(StaffUser.login == "li")).one()
    boss.post(f"/staff/accounts/{li_id}", {f"u{li_id}-role": "staff"})  # "active" unticked
    with app.app_context():
        assert db.session.get(StaffUser, li_id).active is False
        assert db.session.scalars(select(AuditLog.action).where(AuditLog.target_id == str(li_id))).all() == [
            "staff.create", "staff.update"]


def test_the_last_admin_cannot_demote_or_deactivate_themselves(desk, app):
    boss = desk("boss", role="admin")
    page = boss.post(f"/staff/accounts/{boss.id}", {f"u{boss.id}-role": "staff", f"u{boss.id}-active": "y"},
                     follow_redirects=True).get_data(as_text=True)
    assert "最后一个管理员" in page
    with app.app_context():
        assert db.session.get(StaffUser, boss.id).role == "admin"


def test_a_staff_session_ends_after_staff_session_hours_unused(desk, clock):
    clock.set("2026-05-20 09:00")
    wang = desk("wang")
    clock.advance(hours=11)
    assert wang.get("/staff/inbox").status_code == 200  # in use: the 12 hours start again
    clock.advance(hours=11)
    assert wang.get("/staff/inbox").status_code == 200
    clock.advance(hours=13)
    assert wang.get("/staff/inbox").status_code == 302
