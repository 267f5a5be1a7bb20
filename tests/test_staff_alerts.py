"""Staff alerts: one per new escalation, pushed by webhook and e-mail without personal data, retried."""
from __future__ import annotations

import email
import email.policy
import json
import socket
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from werkzeug import Response

from bot.extensions import db
from bot.models import Escalation, StaffAlert
from bot.services import home_office
from tests.support import Chat
from tests.seed import registration, tick, worker

LINK = "https://union.example.org/staff/inbox/{id}"


def alerts(app) -> list[tuple]:
    with app.app_context():
        rows = [(a.reason, a.webhook_status, a.email_status, a.attempts)
                for a in db.session.scalars(select(StaffAlert).order_by(StaffAlert.id))]
        db.session.remove()
    return rows


def staff(results) -> dict:
    """The staff-alert part of a tick's results (slots and retention run in it too)."""
    return {job: counts for job, counts in results.items() if job.startswith("staff_alert")}


def hook_bodies(server) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in server.log if req.path == "/hook"]


def test_a_handoff_alerts_staff_once_by_webhook_with_no_personal_data(make_app, httpserver):
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    app = make_app(STAFF_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"), STAFF_ALERT_LINK=LINK)
    chat = Chat(app, openid="o_private_openid")
    chat.say("我叫李四，电话13912345678，公司拖欠工资")
    assert "人工服务" in chat.say("转人工")

    assert staff(tick(app)) == {"staff_alerts": {"created": 1}, "staff_alert_push": {"sent": 1}}
    assert staff(tick(app)) == {}  # once per escalation
    chat.say("还在吗")  # more messages to the same open escalation: still one alert
    tick(app)
    with app.app_context():
        escalation_id = db.session.scalar(select(Escalation.id))
        db.session.remove()
    assert hook_bodies(httpserver) == [{
        "escalation_id": escalation_id, "reason": "asked", "reason_label": "职工请求转人工",
        "link": f"https://union.example.org/staff/inbox/{escalation_id}",
        "created_at": hook_bodies(httpserver)[0]["created_at"],
        "text": f"职工之家：新的职工请求转人工（编号 {escalation_id}），请到工作台处理：https://union.example.org/staff/inbox/{escalation_id}"}]
    sent = httpserver.log[0][0].get_data(as_text=True)
    assert not any(private in sent for private in ("o_private_openid", "李四", "13912345678", "拖欠工资"))
    assert alerts(app) == [("asked", "sent", None, 1)]


def test_without_webhook_or_email_the_alert_is_a_row_for_the_workbench(app):
    with app.app_context():
        db.session.add(Escalation(worker_id=worker("o_someone").id, reason="not_helpful"))
        db.session.add(Escalation(worker_id=worker("o_closed").id, reason="asked", status="closed"))
        db.session.commit()
    assert staff(tick(app)) == {"staff_alerts": {"created": 1}}
    assert alerts(app) == [("not_helpful", None, None, 0)]


def test_a_failed_push_is_retried_later_and_does_not_hold_up_other_jobs(make_app, httpserver, clock):
    httpserver.expect_oneshot_request("/hook").respond_with_response(Response("down for maintenance", status=503))
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    app = make_app(STAFF_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"), CHECKIN_REMINDER_TIME="20:00")
    clock.set("2024-05-20 20:00")
    with app.app_context():
        registration(worker("o_due"), "2024-05-18", "2024-05-25")
        db.session.add(Escalation(worker_id=worker("o_handoff").id, reason="asked"))
        db.session.commit()

    results = tick(app)
    assert results["staff_alert_push"] == {"retry": 1} and results["checkin_reminders"] == {"queued": 1}
    with app.app_context():
        alert = db.session.scalars(select(StaffAlert)).one()
        assert alert.webhook_status == "pending" and "503" in alert.last_error
        db.session.remove()
    clock.advance(seconds=30)
    assert "staff_alert_push" not in tick(app)  # backing off
    clock.advance(seconds=31)
    assert tick(app)["staff_alert_push"] == {"sent": 1}
    assert len(hook_bodies(httpserver)) == 2
    assert alerts(app) == [("asked", "sent", None, 2)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_push_that_keeps_failing_is_marked_failed_and_the_alert_stays(make_app, clock):
    app = make_app(STAFF_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/hook", STAFF_ALERT_MAX_ATTEMPTS=3)
    clock.set("2024-05-20 09:00")
    with app.app_context():
        db.session.add(Escalation(worker_id=worker("o_handoff").id, reason="asked"))
        db.session.commit()
    outcomes = []
    for _ in range(4):
        outcomes.append(tick(app).get("staff_alert_push"))
        clock.advance(hours=1)
    assert outcomes == [{"retry": 1}, {"retry": 1}, {"failed": 1}, None]
    assert alerts(app) == [("asked", "failed", None, 3)]


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 – aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_a_flagged_checkin_emails_the_on_duty_address(make_app, smtp_server):
    inbox, port = smtp_server
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none", SMTP_FROM="bot@union.example.org",
                   STAFF_ALERT_EMAIL="duty@union.example.org", STAFF_ALERT_LINK=LINK)
    with app.app_context():
        w = worker("o_fever")
        home_office.record_checkin(db.session, w, date.today(), temperature=38.6, symptoms=["发热"], test_result="阴性",
                                   test_date=None, whereabouts="和平里小区")
        db.session.commit()
    assert tick(app)["staff_alert_push"] == {"sent": 1}
    assert alerts(app) == [("flagged_checkin", None, "sent", 1)]
    [(recipients, message)] = inbox.messages
    assert recipients == ["duty@union.example.org"] and message["From"] == "bot@union.example.org"
    assert message["Subject"].startswith("职工之家：健康打卡异常（编号 ")
    body = message.get_content()
    assert "https://union.example.org/staff/inbox/" in body
    assert not any(private in body for private in ("o_fever", "38.6", "和平里", "发热"))
