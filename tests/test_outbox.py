"""WeChat's sending rules, end to end against the fake WeChat API: the 48-hour window and its quota,
template fallback with values WeChat accepts, parking, and the parked text handed to the webhook."""
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bot import outbox, sender
from bot.clock import now
from bot.extensions import db
from bot.models import Message, Outbox, Worker
from bot.wechat_api import client
from tests.support import Chat

REMINDER_TPL = {"reminder": {"template_id": "TPL_REMIND", "fields": {"thing1": "{content}", "time2": "{day}"}}}


def worker(openid="o_1", seen_hours_ago: float | None = 1) -> Worker:
    w = Worker(openid=openid, last_seen_at=None if seen_hours_ago is None else now() - timedelta(hours=seen_hours_ago))
    db.session.add(w)
    db.session.flush()
    return w


def send_all() -> dict:
    counts = sender.send_pending(client())
    db.session.remove()
    return counts


def statuses():
    return db.session.execute(select(Outbox.dedupe_key, Outbox.status, Outbox.sent_as).order_by(Outbox.id)).all()


def test_a_queued_notice_is_sent_once(fake_app, fake_wechat):
    with fake_app.app_context():
        w = worker("o_notice")
        assert outbox.queue(db.session, w.id, "您的入会申请已通过", "membership:1:approved") is not None
        assert outbox.queue(db.session, w.id, "您的入会申请已通过", "membership:1:approved") is None  # no-op
        db.session.commit()
    result = fake_app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.output.startswith("sent=1"), result.output
    assert fake_app.test_cli_runner().invoke(args=["outbox", "send"]).output.startswith("sent=0")
    assert [(m["touser"], m["content"]) for m in fake_wechat.sent()] == [("o_notice", "您的入会申请已通过")]
    with fake_app.app_context():
        assert statuses() == [("membership:1:approved", "sent", "custom")]
        assert db.session.scalars(select(Message.kind)).all() == ["outbox:text"]


def test_window_opens_with_the_workers_message_and_counts_what_was_sent(fake_app, clock):
    clock.set("2026-12-02 10:00")
    with fake_app.app_context():
        w = worker("o_window", seen_hours_ago=0)
        assert outbox.window(db.session, w, {"CS_WINDOW_QUOTA": 2}).remaining == 2
        for i in range(2):
            db.session.add(Outbox(worker_id=w.id, kind="text", dedupe_key=f"w{i}", payload={},
                                  status="sent", sent_as="custom", sent_at=now()))
        db.session.flush()
        full = outbox.window(db.session, w, {"CS_WINDOW_QUOTA": 2})
        assert (full.is_open, full.remaining, full.until - now()) == (False, 0, timedelta(hours=48))
        clock.advance(hours=49)
        assert outbox.window(db.session, w, {"CS_WINDOW_QUOTA": 5}).is_open is False
        db.session.rollback()


@pytest.mark.parametrize("hours, expected", [(47, "custom"), (49, "template")])
def test_the_48_hour_window_decides_customer_service_or_template(make_app, fake_wechat, templates_file,
                                                                 hours, expected):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(REMINDER_TPL))
    with app.app_context():
        w = worker(seen_hours_ago=hours)
        assert outbox.route_for(db.session, w, app.config, "reminder") == expected
        outbox.queue(db.session, w.id, "今天还没有健康打卡", "checkin:1", purpose="reminder", day="12月3日")
        db.session.commit()
        assert send_all()["sent"] == 1
        assert statuses() == [("checkin:1", "sent", expected)]
    (message,) = fake_wechat.sent()
    if expected == "template":
        assert (message["template_id"], message["client_msg_id"]) == ("TPL_REMIND", "checkin:1")
        assert message["data"] == {"thing1": {"value": "今天还没有健康打卡"}, "time2": {"value": "12月3日"}}
    else:
        assert message["content"] == "今天还没有健康打卡"


def test_the_quota_falls_back_to_the_template_after_n_messages(make_app, fake_wechat, templates_file):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(REMINDER_TPL),
                   CS_WINDOW_QUOTA=2)
    with app.app_context():
        w = worker()
        for i in range(3):
            outbox.queue(db.session, w.id, f"提醒{i}", f"r{i}", purpose="reminder", day="今天")
        worker_id = w.id
        db.session.commit()
        assert send_all()["sent"] == 3
        assert [s.sent_as for s in statuses()] == ["custom", "custom", "template"]
        described = outbox.describe_window(db.session, db.session.get(Worker, worker_id), app.config, "reminder")
        assert described == "窗口已关闭（本窗口 2 条客服消息已用完）：回复会改用模板消息发送（每项最多 20 字，超出部分省略）"
    assert [m["msgtype"] for m in fake_wechat.sent()] == ["text", "text", "template"]


def test_template_values_are_made_valid_before_sending(make_app, fake_wechat, templates_file):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(REMINDER_TPL))
    long_text = "您预约的法律援助咨询明天上午九点在市总工会三楼开始，\n请携带劳动合同和工资条"
    with app.app_context():
        w = worker(seen_hours_ago=None)  # never wrote: no window at all
        outbox.queue(db.session, w.id, long_text, "legal:1", purpose="reminder", day="12月3日 09:00")
        db.session.commit()
        assert send_all()["sent"] == 1
    value = fake_wechat.sent()[0]["data"]["thing1"]["value"]
    assert len(value) == 20 and value.endswith("…") and "\n" not in value
    assert [c["errcode"] for c in fake_wechat.calls("template/send")] == [0]  # never a 47003


def test_a_template_that_does_not_fit_parks_the_message(make_app, fake_wechat, templates_file):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(REMINDER_TPL))
    with app.app_context():
        w = worker(seen_hours_ago=100)
        outbox.queue(db.session, w.id, "请今天打卡", "r:noday", purpose="reminder")  # no {day} for time2
        db.session.commit()
        assert send_all()["parked"] == 1
        assert statuses() == [("r:noday", "parked", None)]
    assert fake_wechat.sent() == []


def test_closed_window_parks_sends_one_notice_and_the_next_message_takes_the_parked_text(
        make_app, fake_wechat, templates_file):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(notice="TPL_NOTICE"))
    with app.app_context():
        w = worker("o_parked", seen_hours_ago=60)
        assert outbox.route_for(db.session, w, app.config, "staff_reply") == "park"
        assert outbox.describe_window(db.session, w, app.config).endswith(
            "回复会暂存，职工下次发消息时送达，并先发一条模板提醒")
        outbox.queue(db.session, w.id, "您好，您反映的欠薪问题已转给区工会。", "staff:1", purpose="staff_reply")
        outbox.queue(db.session, w.id, "补充：请保留考勤记录。", "staff:2", purpose="staff_reply")
        worker_id = w.id
        db.session.commit()
        counts = send_all()
        assert counts["parked"] == 2
        assert send_all()["sent"] == 1  # the notice queued by parking
        assert send_all()["claimed"] == 0
    (notice,) = fake_wechat.sent(touser="o_parked")
    assert notice["template_id"] == "TPL_NOTICE"
    assert notice["data"] == {"thing1": {"value": "您有一条新回复，发送任意消息即可查看"}}
    with app.app_context():
        assert outbox.take_parked(db.session, worker_id) == [
            "您好，您反映的欠薪问题已转给区工会。", "补充：请保留考勤记录。"]
        db.session.commit()
        assert outbox.take_parked(db.session, worker_id) == []
        assert [(k, s, a) for k, s, a in statuses() if k.startswith("staff")] == [
            ("staff:1", "delivered", "passive"), ("staff:2", "delivered", "passive")]


def test_take_parked_costs_one_indexed_query_when_nothing_is_parked(app):
    with app.app_context():
        w = worker()
        db.session.add_all([Outbox(worker_id=w.id, dedupe_key=f"s{i}", status="sent", payload={}) for i in range(5)])
        worker_id = w.id
        db.session.commit()
        statements = []
        listen = lambda _c, _cur, statement, params, *a: statements.append((statement, params))  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert outbox.take_parked(db.session, worker_id) == []
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        queries = [(s, p) for s, p in statements if s != "BEGIN"]
        assert len(queries) == 1
        statement, params = queries[0]
        conn = db.session.connection()
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        else:  # PostgreSQL: a table this small is scanned whatever the indexes; ask whether one serves
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        assert "ix_outbox_worker_status" in str(plan), plan
        db.session.rollback()


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_wechat_refusing_the_window_falls_back_and_closes_it_for_later_messages(
        make_app, fake_wechat, templates_file, errcode):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_TEMPLATES_FILE=templates_file(REMINDER_TPL))
    fake_wechat.fault(errcode)  # our count says open, WeChat says closed
    with app.app_context():
        w = worker("o_refused")
        outbox.queue(db.session, w.id, "打卡提醒", "r1", purpose="reminder", day="今天")
        outbox.queue(db.session, w.id, "感谢您的反馈", "n1", purpose="notice")
        worker_id = w.id
        db.session.commit()
        counts = send_all()
        assert counts["rerouted"] == 1
        send_all()
        assert statuses() == [("r1", "sent", "template"), ("n1", "parked", None)]
        row = db.session.scalars(select(Outbox).where(Outbox.dedupe_key == "r1")).one()
        assert row.last_errcode == errcode  # kept for staff: why it went as a template
        described = outbox.describe_window(db.session, db.session.get(Worker, worker_id), app.config, "notice")
        assert "微信已拒收" in described
    assert [c["errcode"] for c in fake_wechat.calls("message/")] == [errcode, 0]  # one refusal, no second try


def test_describe_window_for_staff(fake_app, clock):
    clock.set("2026-12-01 14:05")
    with fake_app.app_context():
        w = worker("o_desc", seen_hours_ago=0)
        db.session.add(Outbox(worker_id=w.id, dedupe_key="s1", status="sent", sent_as="custom", sent_at=now(),
                              payload={}))
        db.session.add(Outbox(worker_id=w.id, dedupe_key="s2", status="sent", sent_as="custom", sent_at=now(),
                              payload={}))
        db.session.flush()
        assert outbox.describe_window(db.session, w, fake_app.config) == "窗口至 12月3日 14:05，还可发 3 条"
        clock.advance(hours=49)
        assert outbox.describe_window(db.session, w, fake_app.config) == \
            "窗口已关闭（职工最后一次互动在 12月1日 14:05，已超过 48 小时）：回复会暂存，职工下次发消息时送达"
        never = outbox.describe_window(db.session, worker("o_new", None), fake_app.config)
        assert never.startswith("窗口已关闭（职工还没有和公众号互动过）")
        db.session.rollback()


def test_late_replies_are_queued_to_be_sent_at_least_once(fake_app, fake_wechat):
    with fake_app.app_context():
        w = worker("o_late")
        row = outbox.queue_late_reply(db.session, w.id, "您问的加班费计算方法如下……", "late:msg:42")
        db.session.commit()
        assert (row.purpose, row.kind) == ("late_reply", "text")
        assert outbox.after_crash("late_reply", "custom") == "pending"
        assert outbox.after_crash("reminder", "custom") == "unknown"
        assert outbox.after_crash("reminder", "template") == "pending"
        assert send_all()["sent"] == 1
    assert fake_wechat.sent()[0]["content"] == "您问的加班费计算方法如下……"


def test_an_unknown_purpose_is_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown outbox purpose"):
        outbox.queue(db.session, 1, "x", "k", purpose="spam")


@pytest.mark.parametrize("purpose, route, outcome, errcode, attempts, becomes", [
    ("reminder", "custom", "ok", None, 1, "sent"),
    ("reminder", "custom", "error", 45015, 1, "reroute"),
    ("staff_reply", "custom", "error", 45047, 1, "reroute"),
    ("staff_reply", "template", "error", 45015, 1, "retry"),  # only customer-service messages have a window
    ("notice", "custom", "error", 43004, 1, "unfollowed"),
    ("notice", "custom", "error", 40164, 5, "stop"),  # not the row's fault, even on its last attempt
    ("notice", "template", "error", 45009, 1, "stop"),
    ("decision", "template", "error", 47003, 1, "failed"),
    ("reminder", "custom", "maybe", None, 1, "unknown"),  # at most once
    ("reminder", "template", "maybe", None, 1, "retry"),  # WeChat dedupes by client_msg_id
    ("staff_reply", "custom", "maybe", None, 1, "retry"),  # at least once
    ("late_reply", "custom", "maybe", None, 1, "retry"),
    ("reminder", "custom", "not_sent", None, 1, "retry"),  # never reached WeChat
    ("staff_reply", "custom", "error", -1, 4, "retry"),
    ("staff_reply", "custom", "error", -1, 5, "failed"),
])
def test_what_a_row_becomes_after_a_call(purpose, route, outcome, errcode, attempts, becomes):
    assert outbox.after_call(purpose, route, outcome, errcode, attempts, max_attempts=5) == becomes


def test_the_simulator_page_shows_what_the_fake_api_delivered(make_app, fake_wechat, templates_file):
    app = make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret", WECHAT_TEMPLATES_FILE=templates_file(
        REMINDER_TPL))
    with app.app_context():
        outbox.queue(db.session, worker("o_page").id, "明天上午9点法律援助咨询", "legal:1", purpose="reminder", day="明天")
        outbox.queue(db.session, worker("o_far", seen_hours_ago=100).id, "请完成健康打卡", "r:far", purpose="reminder",
                     day="今天")
        db.session.commit()
        send_all()
    page = app.test_client()
    first = page.get("/dev/chat/pushed", query_string={"openid": "o_page"}).get_json()
    assert first["messages"] == ["明天上午9点法律援助咨询"]
    assert page.get("/dev/chat/pushed", query_string={"openid": "o_page", "after": first["after"]}).get_json()[
        "messages"] == []
    far = page.get("/dev/chat/pushed", query_string={"openid": "o_far"}).get_json()
    assert far["messages"] == ["［模板消息］请完成健康打卡；今天"]


# ------------------------------------------------------------------ parked text in the next passive reply

def park(app, openid: str, *texts_: str) -> int:
    """Messages for a worker whose window has closed, parked as the sender leaves them."""
    with app.app_context():
        w = db.session.scalar(select(Worker).where(Worker.openid == openid)) or worker(openid)
        w.last_seen_at = now() - timedelta(hours=60)
        for i, text in enumerate(texts_):
            db.session.add(Outbox(worker_id=w.id, kind="text", purpose="staff_reply", status="parked",
                                  dedupe_key=f"staff:{openid}:{i}", payload={"content": text}))
        db.session.commit()
        return w.id


def park_reminder(app, openid: str, key: str, **payload) -> None:
    """A reminder parked for a worker who has written before (their window is open)."""
    with app.app_context():
        w = db.session.scalar(select(Worker).where(Worker.openid == openid))
        db.session.add(Outbox(worker_id=w.id, purpose="reminder", status="parked", dedupe_key=key, payload=payload))
        db.session.commit()


def test_the_workers_next_message_brings_the_parked_replies_before_the_answer(app):
    chat = Chat(app, openid="o_back")
    chat.say("你好")
    park(app, "o_back", "您好，您反映的欠薪问题已转给区工会。", "补充：请保留考勤记录。")
    reply = chat.say("加班费怎么算")
    assert reply.startswith("您好，您反映的欠薪问题已转给区工会。\n\n补充：请保留考勤记录。\n\n"), reply
    assert "加班" in reply.split("补充：请保留考勤记录。\n\n", 1)[1]
    assert chat.say("谢谢").count("区工会") == 0  # delivered once
    with app.app_context():
        assert [(s, a) for _, s, a in statuses()] == [("delivered", "passive"), ("delivered", "passive")]


def test_parked_replies_that_do_not_fit_the_passive_reply_go_to_the_sender(app):
    chat = Chat(app, openid="o_long")
    chat.say("你好")
    long_text = "请携带劳动合同、工资条和考勤记录到区工会法律服务窗口。" * 30  # ~1,600 bytes
    park(app, "o_long", "第一条：已转给区工会。", long_text)
    reply = chat.say("你好")
    assert reply.startswith("第一条：已转给区工会。\n\n") and long_text not in reply
    with app.app_context():
        # the worker just wrote, so the window is open: the sender sends the rest as customer-service text
        assert [s for _, s, _a in statuses()] == ["delivered", "pending"]


def test_a_parked_reminder_for_a_day_that_is_over_is_not_delivered(app):
    chat = Chat(app, openid="o_stale")
    chat.say("你好")
    park_reminder(app, "o_stale", "r:stale", content="5月20日的健康打卡还没有完成",
                  expires_at=(now() - timedelta(hours=1)).isoformat())
    assert "健康打卡还没有完成" not in chat.say("你好")
    with app.app_context():
        assert statuses() == [("r:stale", "expired", None)]


def test_stopping_reminders_withdraws_a_parked_one_before_it_rides_on_the_reply(app):
    chat = Chat(app, openid="o_optout")
    chat.say("你好")
    park_reminder(app, "o_optout", "r:optout", content="今天的健康打卡还没有完成")
    reply = chat.say("退订提醒")
    assert "已为您停止提醒" in reply and "健康打卡还没有完成" not in reply
    with app.app_context():
        assert statuses() == [("r:optout", "skipped", None)]
