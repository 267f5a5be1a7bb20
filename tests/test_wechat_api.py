"""The WeChat API client against the fake server: one stable token for everyone, refreshed once
when WeChat refuses it, force_refresh rationed, and 40164 stopping everything, told once."""
import logging

import pytest
from sqlalchemy import func, select
from wechatpy.exceptions import WeChatClientException

from bot import outbox
from bot.clock import now
from bot.extensions import db
from bot.models import AuditLog, KeyValue, Worker
from bot.wechat_api import client
from tests.support import APP_ID, run_together


def send(app, text="你好", openid="o_1"):
    """A fresh client each time, as a new process would have: only the database is shared."""
    with app.app_context():
        try:
            return client().message.send_text(openid, text)
        finally:
            db.session.remove()


def token_calls(fake):
    return [c["body"] for c in fake.calls("stable_token")]


def send_tokens(fake):
    return [c["token"] for c in fake.calls("message/custom/send")]


def test_the_stable_token_is_fetched_once_and_kept_in_the_database(fake_app, fake_wechat):
    send(fake_app, "一")
    send(fake_app, "二")
    assert token_calls(fake_wechat) == [{"grant_type": "client_credential", "appid": APP_ID, "secret": "secret",
                                         "force_refresh": False}]
    with fake_app.app_context():
        stored = db.session.get(KeyValue, f"{APP_ID}_access_token").value
    assert send_tokens(fake_wechat) == [stored, stored]


def test_threads_refreshing_at_once_fetch_one_token(fake_app, fake_wechat):
    fake_wechat.fault(slow=0.3, path="stable_token")  # the first fetch is still under way when the others ask
    run_together(4, lambda i: send(fake_app, f"消息{i}"))
    assert fake_wechat.token_fetches == 1
    assert len(set(send_tokens(fake_wechat))) == 1 and len(fake_wechat.sent()) == 4


@pytest.mark.parametrize("errcode", [40001, 40014])
def test_a_refused_token_is_refreshed_once_and_the_call_repeated(fake_app, fake_wechat, errcode):
    send(fake_app, "一")
    fake_wechat.fault(errcode)  # WeChat refuses the token it handed out
    assert send(fake_app, "二")["errcode"] == 0
    # the plain fetch returns the same token, so the client asks for a new one: force_refresh
    assert [b["force_refresh"] for b in token_calls(fake_wechat)] == [False, False, True]
    first, refused, repeated = send_tokens(fake_wechat)
    assert first == refused != repeated
    assert [m["content"] for m in fake_wechat.sent()] == ["一", "二"]


def test_an_expired_token_is_replaced_without_force(fake_app, fake_wechat):
    send(fake_app, "一")
    fake_wechat.expire_tokens()  # 42001 on the next call
    assert send(fake_app, "二")["errcode"] == 0
    assert [b["force_refresh"] for b in token_calls(fake_wechat)] == [False, False]
    assert len(set(send_tokens(fake_wechat))) == 2


def test_a_token_refused_twice_is_not_refreshed_in_a_loop(fake_app, fake_wechat):
    send(fake_app, "一")
    fake_wechat.fault(40001, count=2)
    with pytest.raises(WeChatClientException) as raised:
        send(fake_app, "二")
    assert raised.value.errcode == 40001
    assert len(send_tokens(fake_wechat)) == 3 and len(token_calls(fake_wechat)) == 3


def test_force_refresh_is_rationed_per_beijing_day(make_app, fake_wechat, templates_file, clock):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret", WECHAT_FORCE_REFRESH_PER_DAY=1)
    clock.set("2026-12-02 22:00")
    for text in ("一", "二"):
        fake_wechat.fault(40001)
        assert send(app, text)["errcode"] == 0  # the injected refusal is gone on the repeat
    assert [b["force_refresh"] for b in token_calls(fake_wechat)] == [False, False, True, False]
    clock.advance(hours=2, minutes=30)  # 00:30 the next day in Beijing: a new day's budget
    fake_wechat.fault(40001)
    send(app, "三")
    assert [b["force_refresh"] for b in token_calls(fake_wechat)][-1] is True


def test_ip_not_whitelisted_stops_sending_and_tells_the_operator_once(fake_app, fake_wechat, caplog):
    fake_wechat.fault(40164, path="stable_token", count=10)
    with caplog.at_level(logging.ERROR, logger="bot.wechat_stops"):
        for _ in range(2):
            with pytest.raises(WeChatClientException):
                send(fake_app)
    told = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(told) == 1 and "40164" in told[0] and "IP白名单" in told[0] and "flask outbox resume" in told[0]
    with fake_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "wechat.sending_stopped")) == 1
        worker = Worker(openid="o_waiting", last_seen_at=now())
        db.session.add(worker)
        db.session.flush()
        outbox.queue(db.session, worker.id, "您的预约已确认", "booking:1", purpose="decision")
        db.session.commit()
    runner = fake_app.test_cli_runner()
    status = runner.invoke(args=["outbox", "status"]).output
    assert "STOPPED" in status and "40164" in status and "flask outbox resume" in status
    calls_before = len(fake_wechat.calls())
    result = runner.invoke(args=["outbox", "send"])
    assert "sent=0" in result.output and "STOPPED" in result.output
    assert len(fake_wechat.calls()) == calls_before  # not retried: WeChat is not asked again
    fake_wechat.clear_faults()  # the operator added the IP to the whitelist
    assert "sending resumed" in runner.invoke(args=["outbox", "resume"]).output
    assert "sent=1" in runner.invoke(args=["outbox", "send"]).output
    assert [m["content"] for m in fake_wechat.sent(touser="o_waiting")] == ["您的预约已确认"]
