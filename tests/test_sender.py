"""The sender against the fake WeChat API: each error code WeChat answers, slow answers and dropped
connections, back-off and the per-purpose rule for a message that may or may not have arrived."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import outbox, sender
from bot.clock import aware, now
from bot.extensions import db
from bot.models import Outbox, Worker
from bot.wechat_api import client


@pytest.fixture
def wx(make_app, fake_wechat, templates_file):
    """An app on the fake API; short API timeout so slow answers time out quickly."""
    return make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret", WECHAT_API_TIMEOUT=0.5,
                    WECHAT_TEMPLATES_FILE=templates_file(), OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_SECONDS=60)


def queue(app, purpose="staff_reply", openid="o_1", text="您好，已收到", key="k1", **kw):
    with app.app_context():
        w = db.session.scalars(select(Worker).where(Worker.openid == openid)).first()
        if w is None:
            w = Worker(openid=openid, last_seen_at=now())
            db.session.add(w)
            db.session.flush()
        outbox.queue(db.session, w.id, text, key, purpose=purpose, **kw)
        db.session.commit()
        db.session.remove()


def run(app) -> dict:
    with app.app_context():
        try:
            return sender.send_pending(client())
        finally:
            db.session.remove()


def row(app, key="k1") -> dict:
    with app.app_context():
        r = db.session.scalars(select(Outbox).where(Outbox.dedupe_key == key)).one()
        result = {c: getattr(r, c) for c in ("status", "attempts", "last_errcode", "last_error", "sent_as")}
        result["not_before"] = aware(r.not_before)
        db.session.remove()
        return result


def delivered(fake, openid="o_1"):
    return [m.get("content") or m.get("template_id") for m in fake.sent(touser=openid)]


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_a_refused_token_is_refreshed_once_then_the_message_goes(wx, fake_wechat, errcode):
    queue(wx)
    run(wx)  # fetches the token
    queue(wx, key="k2", text="第二条")
    fake_wechat.fault(errcode)
    assert run(wx)["sent"] == 1
    assert delivered(fake_wechat) == ["您好，已收到", "第二条"]
    assert row(wx, "k2")["attempts"] == 1


@pytest.mark.parametrize("fault", [{"errcode": -1}, {"drop": "before"}, {"slow": 2.0}],
                         ids=["busy", "dropped", "slow"])
def test_busy_dropped_and_slow_calls_are_retried_for_at_least_once_messages(wx, fake_wechat, clock, fault):
    clock.set("2026-12-02 10:00")
    queue(wx, purpose="staff_reply")
    fake_wechat.fault(**fault)
    assert run(wx)["retry"] == 1
    first = row(wx)
    assert first["status"] == "pending" and first["attempts"] == 1 and first["last_error"]
    assert timedelta(seconds=30) <= first["not_before"] - now() <= timedelta(seconds=60)  # back-off with jitter
    assert run(wx)["claimed"] == 0  # not due yet
    clock.advance(minutes=2)
    assert run(wx)["sent"] == 1
    # a slow answer had been delivered already: at least once means it may arrive twice
    assert delivered(fake_wechat) == ["您好，已收到"] * (2 if "slow" in fault else 1)


@pytest.mark.parametrize("fault", [{"drop": "before"}, {"drop": "after"}, {"slow": 2.0}],
                         ids=["dropped-before", "dropped-after", "slow"])
def test_a_reminder_that_may_have_arrived_is_never_sent_twice(wx, fake_wechat, clock, fault):
    clock.set("2026-12-02 10:00")
    queue(wx, purpose="reminder", text="请完成今日健康打卡")
    fake_wechat.fault(**fault)
    assert run(wx)["unknown"] == 1
    assert row(wx)["status"] == "unknown" and "maybe sent" in row(wx)["last_error"]
    clock.advance(hours=3)
    assert run(wx)["claimed"] == 0
    assert len(delivered(fake_wechat)) == (0 if fault.get("drop") == "before" else 1)


def test_a_reminder_is_retried_when_the_connection_was_never_made(make_app, fake_wechat, templates_file):
    closed = fake_wechat.url.replace(str(fake_wechat.port), "1")  # nothing listens on port 1
    app = make_app(WECHAT_API_BASE_URL=closed, WECHAT_APP_SECRET="secret", WECHAT_TEMPLATES_FILE=templates_file())
    queue(app, purpose="reminder")
    with app.app_context():  # a token from before the outage
        from bot.models import KeyValue
        from tests.support import APP_ID

        db.session.add(KeyValue(key=f"{APP_ID}_access_token", value="T", expires_at=now() + timedelta(hours=1)))
        db.session.commit()
    assert run(app)["retry"] == 1
    assert row(app)["status"] == "pending" and "NewConnectionError" in row(app)["last_error"]


def test_template_sends_are_resent_after_a_dropped_answer_and_wechat_dedupes(make_app, fake_wechat, templates_file,
                                                                             clock):
    clock.set("2026-12-02 10:00")
    templates = templates_file({"reminder": {"template_id": "TPL", "fields": {"thing1": "{content}"}}})
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret", WECHAT_TEMPLATES_FILE=templates)
    with app.app_context():
        w = Worker(openid="o_1")  # no window: the reminder goes as a template
        db.session.add(w)
        db.session.flush()
        outbox.queue(db.session, w.id, "明天上午九点法律援助咨询", "legal:7:reminder", purpose="reminder")
        db.session.commit()
    fake_wechat.fault(drop="after", path="template/send")
    assert run(app)["retry"] == 1
    clock.advance(minutes=2)
    assert run(app)["sent"] == 1
    assert [c["body"]["client_msg_id"] for c in fake_wechat.calls("template/send")] == ["legal:7:reminder"] * 2
    assert delivered(fake_wechat) == ["TPL"]  # WeChat dropped the second by client_msg_id


def test_after_the_last_attempt_the_row_fails_with_wechats_error_kept(wx, fake_wechat, clock):
    clock.set("2026-12-02 10:00")
    queue(wx)
    fake_wechat.fault(-1, count=10)
    for _ in range(3):
        run(wx)
        clock.advance(hours=2)
    assert row(wx)["status"] == "failed" and row(wx)["attempts"] == 3
    assert row(wx)["last_errcode"] == -1 and "system error" in row(wx)["last_error"]
    assert "failed=1" in wx.test_cli_runner().invoke(args=["outbox", "status"]).output


def test_47003_from_wechat_fails_the_row_at_once_with_the_error_kept(make_app, fake_wechat, templates_file):
    templates = templates_file({"decision": {"template_id": "TPL", "fields": {"thing1": "{content}"}}})
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret", WECHAT_TEMPLATES_FILE=templates)
    with app.app_context():
        w = Worker(openid="o_1")
        db.session.add(w)
        db.session.flush()
        outbox.queue(db.session, w.id, "入会申请已通过", "k1", purpose="decision")
        db.session.commit()
    fake_wechat.fault(47003, path="template/send")  # our check passed, WeChat disagrees
    assert run(app)["failed"] == 1
    assert row(app)["last_errcode"] == 47003 and "47003" in row(app)["last_error"]


def test_an_unfollowed_worker_is_marked_unsubscribed_and_skipped(wx, fake_wechat):
    queue(wx, key="k1")
    queue(wx, key="k2")
    fake_wechat.fault(43004)
    counts = run(wx)
    assert counts["skipped"] == 2 and counts["sent"] == 0
    assert len(fake_wechat.calls("message/")) == 1  # the second was not even tried
    with wx.app_context():
        w = db.session.scalars(select(Worker)).one()
        assert w.subscribed is False and w.unsubscribed_at is not None
    assert row(wx, "k1")["last_errcode"] == 43004


def test_the_daily_api_quota_pauses_sending_until_the_next_beijing_day(wx, fake_wechat, clock):
    clock.set("2026-12-02 21:00")
    queue(wx, key="k1")
    queue(wx, key="k2")
    fake_wechat.fault(45009)
    counts = run(wx)
    assert counts["stopped"] == 1 and counts["released"] == 1
    assert row(wx, "k1")["status"] == "pending" and row(wx, "k1")["attempts"] == 0  # not the row's fault
    status = wx.test_cli_runner().invoke(args=["outbox", "status"]).output
    assert "PAUSED until 2026-12-03 00:00 Beijing time" in status
    clock.advance(hours=2, minutes=59)
    assert run(wx)["claimed"] == 0 and len(fake_wechat.calls("message/")) == 1
    clock.advance(minutes=2)  # 00:01 the next day
    assert run(wx)["sent"] == 2
    assert delivered(fake_wechat) == ["您好，已收到"] * 2


def test_explicit_template_rows_are_sent_as_templates_with_values_made_valid(wx, fake_wechat):
    data = {"thing1": {"value": "您的入会申请已经由市总工会审核通过欢迎加入"}, "phrase2": {"value": "已通过"}}
    queue(wx, purpose="decision", kind="template", template_id="TPL_DECISION", data=data)
    assert run(wx)["sent"] == 1
    (message,) = fake_wechat.sent()
    assert message["data"]["thing1"]["value"] == "您的入会申请已经由市总工会审核通过欢迎…"  # 19 + "…"
    assert message["client_msg_id"] == "k1"


def test_a_long_running_sender_resumes_when_the_pause_ends(wx, fake_wechat, clock):
    """`flask outbox send --loop` keeps one Sender: a 45009 pause must not stop it for good."""
    clock.set("2026-12-02 21:00")
    queue(wx, key="k1")
    fake_wechat.fault(45009)
    with wx.app_context():
        looping = sender.Sender(client(), wx.config)
        try:
            assert looping.drain()["stopped"] == 1
            clock.advance(hours=3, minutes=1)  # 00:01 the next day
            assert looping.drain()["sent"] == 1
        finally:
            looping.close()
            db.session.remove()
    assert delivered(fake_wechat) == ["您好，已收到"]


def test_a_reminder_retried_past_its_day_is_not_sent(wx, fake_wechat, clock):
    clock.set("2026-12-02 20:00")
    queue(wx, purpose="reminder", text="您今天还没有健康打卡", expires_at="2026-12-03T00:00:00+08:00")
    fake_wechat.fault(-1)
    assert run(wx)["retry"] == 1
    clock.advance(hours=5)  # 01:00 the next day: the retry is due, the reminder no longer true
    assert run(wx)["expired"] == 1
    assert row(wx)["status"] == "expired" and delivered(fake_wechat) == []
