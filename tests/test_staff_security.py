"""Workbench safety: only the login page for strangers, roles, CSRF, escaping, login limits, headers, audit."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.extensions import db
from bot.models import AuditLog, Escalation, MembershipApplication, Outbox, StaffUser, Worker
from bot.services import membership
from tests.support import PRODUCTION, run_together

SCRIPT = '<script>alert("x")</script>'


def staff_urls(app, methods=("GET",)):
    """Every /staff URL of the app, with 1 for each id."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/staff") and rule.endpoint != "staff.login" and set(methods) & rule.methods:
            yield re.sub(r"<(?:int:)?(\w+)>", lambda m: "xlsx" if m.group(1) == "fmt" else "1", rule.rule)


def test_anonymous_users_are_sent_to_the_login_page_from_every_url(client, app):
    urls = list(staff_urls(app))
    assert len(urls) >= 10
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], url
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    for url in staff_urls(app, methods=("POST",)):
        response = client.post(url, data={"csrf_token": token, "text": "x", "token": "0"})
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], url


def test_a_staff_account_cannot_reach_admin_pages(desk, app):
    wang = desk("wang")
    assert wang.get("/staff/audit").status_code == 403
    assert wang.get("/staff/accounts").status_code == 403
    assert wang.post("/staff/accounts", {"login": "evil", "name": "x", "role": "admin"}).status_code == 403
    assert wang.post("/staff/applications/1/reveal").status_code == 403
    assert "操作记录" not in wang.page("/staff/inbox")  # not even the link
    with app.app_context():
        assert db.session.scalars(select(StaffUser.login)).all() == ["wang"]


def test_a_form_without_the_csrf_token_is_refused(chat, desk, app):
    chat.say("转人工")
    wang = desk("wang")
    response = wang.client.post("/staff/inbox/1/reply", data={"text": "你好", "token": "0"})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)
    response = wang.client.post("/staff/inbox/1/presence", headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(Outbox)).all() == []
    ok = wang.client.post("/staff/inbox/1/presence", headers={"X-CSRFToken": wang.token()})
    assert ok.status_code == 200  # htmx sends the token as a header


def seed_application(app, worker_openid: str, **fields):
    with app.app_context():
        worker = db.session.scalars(select(Worker).where(Worker.openid == worker_openid)).one()
        values = {"name": "张三", "phone": "13800138000", "id": membership.protect_id("110105199001010027"),
                  "employer": "星光物流", "has_union": "no", "district": "朝阳区", "industry": "快递物流", **fields}
        application = membership.submit(db.session, worker, values)
        db.session.commit()
        return application.id


def test_worker_supplied_text_is_escaped_on_every_page(chat, desk, app):
    chat.say(f"我叫{SCRIPT}")
    chat.say("转人工")
    chat.say(SCRIPT)
    aid = seed_application(app, "o_worker_1", name=SCRIPT, employer=SCRIPT + "公司")
    admin = desk("boss", role="admin")
    admin.post("/staff/canned", {"title": SCRIPT, "body": "{姓名}" + SCRIPT})
    admin.post("/staff/inbox/1/note", {"body": SCRIPT})
    pages = ["/staff/inbox", "/staff/inbox?tab=open", "/staff/inbox/1", "/staff/inbox/1/timeline",
             "/staff/inbox/rows?tab=open", "/staff/applications", f"/staff/applications/{aid}",
             "/staff/applications?q=%3Cscript", "/staff/canned", "/staff/audit"]
    for url in pages:
        page = admin.page(url)
        assert "<script>alert" not in page, url
    assert "&lt;script&gt;alert" in admin.page("/staff/inbox/1")
    assert "&lt;script&gt;alert" in admin.page(f"/staff/applications/{aid}")


def try_login(client, login: str, password: str):
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/staff/login", data={"csrf_token": token, "login": login, "password": password})


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(desk, app, clock):
    clock.set("2026-05-20 10:00")
    wang = desk("wang")
    stranger = app.test_client()
    for _ in range(4):
        assert "登录名或密码不正确" in try_login(stranger, "wang", "wrong-password").get_data(as_text=True)
    assert "账号已锁定到 10:15" in try_login(stranger, "wang", "wrong-password").get_data(as_text=True)
    right = try_login(stranger, "wang", wang.password)
    assert right.status_code == 200 and "已锁定" in right.get_data(as_text=True)  # even the right password
    clock.advance(minutes=16)
    assert try_login(stranger, "wang", wang.password).status_code == 302
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target_type == "staff_user")).all()
        assert "staff.locked" in actions and actions.count("staff.login") == 2


def test_too_many_failures_from_one_address_are_refused(make_app):
    from tests.support import Desk

    app = make_app(LOGIN_IP_LIMIT=3)
    wang = Desk(app, "wang")
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for login in ("a1", "a2", "a3"):
        try_login(attacker, login, "guess-guess")
    refused = try_login(attacker, "wang", wang.password)
    assert "这台电脑登录失败次数过多" in refused.get_data(as_text=True)  # even with the right password
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert try_login(colleague, "wang", wang.password).status_code == 302  # another address is not affected


def test_two_staff_replying_at_once_send_one_message(chat, desk, app):
    chat.say("转人工")
    wang, li = desk("wang", name="王芳"), desk("li", name="李敏")
    texts = ["王芳的回复", "李敏的回复"]
    tokens = [d.token() for d in (wang, li)]

    def press_send(i):
        d = (wang, li)[i]
        return d.client.post("/staff/inbox/1/reply", data={"csrf_token": tokens[i], "text": texts[i], "token": "0"})

    responses = run_together(2, press_send)
    assert sorted(r.status_code for r in responses) == [302, 409]
    refused = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert "刚刚已经回复了这位职工" in refused and "的回复</textarea>" in refused  # the text is kept
    with app.app_context():
        assert len(db.session.scalars(select(Outbox).where(Outbox.purpose == "staff_reply")).all()) == 1


def test_every_staff_action_is_in_the_audit_log(chat, desk, app):
    chat.say("转人工")
    aid = seed_application(app, "o_worker_1")
    boss = desk("boss", role="admin")
    steps = [("/staff/inbox/1/assign", {"to": boss.id}), ("/staff/inbox/1/reply", {"text": "您好", "token": "0"}),
             ("/staff/inbox/1/note", {"body": "备注"}), ("/staff/inbox/1/close", {"message": ""}),
             ("/staff/inbox/1/reopen", {}), ("/staff/canned", {"title": "问候", "body": "您好"}),
             (f"/staff/applications/{aid}/reveal", {}), (f"/staff/applications/{aid}/approve", {}),
             ("/staff/applications/export.csv", {}), ("/staff/accounts", {"login": "li", "name": "李敏", "role": "staff"}),
             ("/staff/accounts/1", {"u1-role": "admin", "u1-active": "y"})]
    for url, data in steps:
        assert boss.post(url, data).status_code in (200, 302), url
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert {r.action for r in rows} >= {
        "staff.create", "staff.login", "escalation.assign", "escalation.reply", "escalation.note", "escalation.close",
        "escalation.reopen", "canned.save", "application.reveal_id", "application.approve", "application.export"}
    assert all(r.actor.startswith("staff:boss") or r.actor == "cli" for r in rows)
    page = boss.page("/staff/audit?action=escalation.")
    assert "escalation.close" in page and "application.approve" not in page


def test_security_headers_on_every_response(client, desk, app):
    for url in ("/staff/login", "/dev/chat", "/static/staff/staff.css", "/wechat", "/staff/inbox"):
        response = client.get(url)
        response.close()  # a static file is streamed from an open file
        headers = response.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"], url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers
    assert "max-age" in client.get("/staff/login", base_url="https://bot.example").headers["Strict-Transport-Security"]
    assert "<script>" not in client.get("/dev/chat").get_data(as_text=True).replace("<script src=", "")


@pytest.mark.parametrize("env, secure", [("development", False), ("production", True)])
def test_session_cookie_is_httponly_lax_and_secure_in_production(make_app, env, secure):
    client = make_app(**(PRODUCTION if env == "production" else {"ENV": env})).test_client()
    client.get("/staff/login", base_url="https://bot.example")  # the CSRF token lives in the session
    cookie = client.get_cookie("session", domain="bot.example")
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.secure is secure


def test_a_new_password_ends_other_sessions(desk):
    wang = desk("wang")
    other = wang.client
    wang.client = wang.app.test_client()  # a second browser
    wang.post("/staff/login", {"login": "wang", "password": wang.password})
    assert wang.post("/staff/password", {"current": wang.password, "new": "a-new-password-1"}).status_code == 302
    assert wang.get("/staff/inbox").status_code == 200  # this browser stays logged in
    assert other.get("/staff/inbox").status_code == 302  # the other one is logged out
