"""The outbox sender against a real HTTP server standing in for the WeChat API."""
import json

from sqlalchemy import select
from werkzeug import Response

from bot import outbox
from bot.wechat_api import client as api_client
from bot.extensions import db
from bot.models import KeyValue, Message, Outbox, Worker


def seed(app, subscribed=True):
    with app.app_context():
        worker = Worker(openid="o_notice", subscribed=subscribed)
        db.session.add(worker)
        db.session.flush()
        outbox.queue(db.session, worker.id, "您的入会申请已通过", dedupe_key="membership:1:approved")
        outbox.queue(db.session, worker.id, "您的入会申请已通过", dedupe_key="membership:1:approved")  # no-op
        db.session.commit()


def sent_bodies(server):
    return [json.loads(req.get_data()) for req, _ in server.log if req.path.endswith("/message/custom/send")]


def test_queued_notice_is_sent_once_with_a_stored_token(api_app, wechat_api):
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    seed(api_app)
    result = api_app.test_cli_runner().invoke(args=["outbox", "send"])
    assert "sent=1" in result.output, result.output
    assert api_app.test_cli_runner().invoke(args=["outbox", "send"]).output.startswith("sent=0")
    assert sent_bodies(wechat_api) == [{"touser": "o_notice", "msgtype": "text",
                                        "text": {"content": "您的入会申请已通过"}}]
    with api_app.app_context():
        assert db.session.scalars(select(Outbox.status)).all() == ["sent"]
        assert db.session.get(KeyValue, f"{api_app.config['WECHAT_APP_ID']}_access_token").value == "TOKEN-1"
        assert db.session.scalars(select(Message.kind)).all() == ["outbox:text"]


def test_api_failure_is_retried_later_then_marked_failed(api_app, wechat_api, clock):
    clock.set("2022-05-20 10:00")
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_response(Response("busy", status=503))
    seed(api_app)
    with api_app.app_context():
        assert outbox.send_pending(api_client())["retry"] == 1
        assert outbox.send_pending(api_client())["retry"] == 0  # backing off: not due yet
        for _ in range(outbox.MAX_ATTEMPTS):
            clock.advance(hours=2)
            outbox.send_pending(api_client())
        row = db.session.scalars(select(Outbox)).one()
        assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS and "503" in row.last_error


def test_unsubscribed_workers_are_skipped(api_app, wechat_api):
    seed(api_app, subscribed=False)
    with api_app.app_context():
        assert outbox.send_pending(api_client())["skipped"] == 1
    assert sent_bodies(wechat_api) == []


def test_a_row_left_sending_by_a_crash_is_not_sent_again(api_app, wechat_api, clock):
    clock.set("2022-05-20 10:00")
    seed(api_app)
    with api_app.app_context():
        outbox.claim(10)  # a sender claimed it, then died before recording the result
        clock.advance(minutes=30)
        counts = outbox.send_pending(api_client())
        assert counts["unknown"] == 1 and counts["sent"] == 0
        assert db.session.scalars(select(Outbox.status)).one() == "unknown"
    assert sent_bodies(wechat_api) == []


def test_window_opens_with_the_workers_message_and_counts_what_was_sent(api_app, clock):
    """48 h after the worker's last message, at most CS_WINDOW_QUOTA customer-service messages."""
    from bot import outbox
    from bot.clock import now
    from bot.models import Outbox, Worker
    from datetime import timedelta

    clock.set("2026-12-02 10:00")
    with api_app.app_context():
        worker = Worker(openid="o_window", last_seen_at=now())
        db.session.add(worker)
        db.session.flush()
        assert outbox.window(db.session, worker, {"CS_WINDOW_QUOTA": 2}).remaining == 2
        for i in range(2):
            db.session.add(Outbox(worker_id=worker.id, kind="text", dedupe_key=f"w{i}", payload={},
                                  status="sent", sent_at=now()))
        db.session.flush()
        full = outbox.window(db.session, worker, {"CS_WINDOW_QUOTA": 2})
        assert (full.is_open, full.remaining, full.until - now()) == (False, 0, timedelta(hours=48))
        clock.advance(hours=49)
        assert outbox.window(db.session, worker, {"CS_WINDOW_QUOTA": 5}).is_open is False
        db.session.rollback()
