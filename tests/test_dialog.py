"""The dialog engine: global commands mid-flow, expiry, restarts and concurrent messages."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.extensions import db
from bot.models import Dialog, Escalation, LegalAidBooking, LegalAidSlot, Message, Worker
from bot.simulator import WeChatSim
from tests.support import Chat, run_together


def test_worker_books_legal_aid(chat, db_session, clock):
    clock.set("2022-05-20 10:00")
    db_session.add(LegalAidSlot(starts_at=datetime(2022, 5, 23, 6, tzinfo=UTC),  # 14:00 Beijing
                                ends_at=datetime(2022, 5, 23, 9, tzinfo=UTC), capacity=2, place="职工法律服务中心"))
    db_session.commit()
    chat.expect(
        ("法律援助", "哪类问题"),
        ("２", "描述情况"),  # full-width digit → 被辞退/解除合同
        ("公司口头辞退我，没给补偿", "5月23日"),
        ("1", "手机号"),
        ("13812345678", "请确认"),
        ("1", "预约成功"),
    )
    booking = db_session.scalars(select(LegalAidBooking)).one()
    assert (booking.topic, booking.day.isoformat()) == ("被辞退/解除合同", "2022-05-23")
    assert chat.state is None


def test_unclear_answer_is_reasked_with_an_example_and_nothing_is_lost(chat):
    chat.start("flow.legal_aid", state="phone", topic="欠薪", facts="三个月没发工资")
    reply = chat.say("过几天吧")
    assert "例如：13812345678" in reply
    assert chat.state == ("legal_aid", "phone")
    assert chat.slots == {"topic": "欠薪", "facts": "三个月没发工资"}


def test_third_failed_try_offers_a_human(chat):
    chat.start("flow.legal_aid", state="phone", topic="欠薪", facts="三个月没发工资")
    assert "转人工" not in chat.say("不知道")
    assert "转人工" not in chat.say("随便")
    assert "转人工" in chat.say("再说吧")


def test_cancel_works_mid_flow(chat):
    chat.say("法律援助")
    assert "已取消" in chat.say("取消")
    assert chat.state is None
    assert "没有正在办理" in chat.say("退出")


def test_back_returns_to_the_previous_step(chat):
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    assert "哪类问题" in chat.say("返回")
    assert chat.state == ("legal_aid", "topic")
    assert "已经是第一步" in chat.say("上一步")


def test_menu_pauses_the_flow_and_continue_resumes_it(chat):
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    reply = chat.say("菜单")
    assert "入会申请" in reply and "继续" in reply
    assert "描述情况" in chat.say("继续")
    assert chat.state == ("legal_aid", "facts") and chat.slots == {"topic": "欠薪/克扣工资"}


def test_handoff_mid_flow_routes_messages_to_staff_until_the_worker_ends_it(chat, db_session):
    chat.expect(("法律援助", "哪类问题"))
    assert "人工服务" in chat.say("转人工")
    assert "工作人员" in chat.say("我想直接问律师")
    escalation = db_session.scalars(select(Escalation)).one()
    assert escalation.status == "open" and escalation.reason == "asked"
    assert escalation.transcript[-1]["content"] == "我想直接问律师"
    assert any(t["content"] == "法律援助" for t in escalation.transcript)
    assert "回到自动服务" in chat.say("结束人工")
    db_session.expire_all()
    assert db_session.get(Escalation, escalation.id).status == "closed"
    assert "哪类问题" in chat.say("继续")  # the step it was paused at (转人工 came at the topic)


def test_repeated_invalid_input_then_handoff_records_the_reason(chat, db_session):
    chat.start("flow.legal_aid", state="phone", topic="欠薪", facts="三个月没发工资")
    for text in ("不知道", "随便", "再说吧"):
        chat.say(text)
    chat.say("转人工")
    assert db_session.scalars(select(Escalation)).one().reason == "invalid_input"


def test_idle_flow_expires_and_the_worker_is_told(chat, clock):
    clock.set("2022-05-20 10:00")
    chat.expect(("法律援助", "哪类问题"))
    clock.advance(minutes=31)
    reply = chat.say("1")
    assert "长时间没有回复" in reply and "预约法律援助" in reply
    assert chat.state is None


def test_flow_state_survives_an_app_restart(make_app):
    first = Chat(make_app(), openid="o_restart")
    first.expect(("法律援助", "哪类问题"), ("3", "描述情况"))
    second = Chat(make_app(), openid="o_restart")  # a new app object (another process), same database
    assert "时段" in second.say("在工地摔伤了腿，老板不管")
    assert second.state == ("legal_aid", "slot")
    assert second.slots["topic"] == "工伤"


def test_concurrent_messages_from_one_worker_are_serialised(app):
    chat = Chat(app, openid="o_busy")
    chat.start("flow.legal_aid", state="phone", topic="欠薪", facts="三个月没发工资")
    with app.app_context():
        version_before = db.session.scalars(select(Dialog.version)).one()
        db.session.remove()
    n = 12
    run_together(n, lambda i: WeChatSim(app.test_client(), app.config, openid="o_busy").say(f"过几天吧{i}"))
    with app.app_context():
        dialog = db.session.scalars(select(Dialog)).one()
        worker = db.session.scalars(select(Worker).where(Worker.openid == "o_busy")).one()
        inbound = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.worker_id == worker.id, Message.direction == "in"))
        # Every invalid answer counted once: no update was lost, and the step did not move.
        assert dialog.failures == n
        assert dialog.version == version_before + n
        assert (dialog.flow, dialog.state) == ("legal_aid", "phone")
        assert inbound == n + 1
        db.session.remove()
