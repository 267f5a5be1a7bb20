"""转人工: who owns the conversation, what the escalation carries, and how it ends (worker or staff)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import Dialog, Escalation, Message, Outbox, Worker
from bot.services import handoff
from tests.support import Chat


def worker(db_session, openid="o_worker_1") -> Worker:
    db_session.expire_all()
    return db_session.scalars(select(Worker).where(Worker.openid == openid)).one()


def escalation(db_session) -> Escalation:
    db_session.expire_all()
    return db_session.scalars(select(Escalation)).one()


def test_asking_for_a_human_hands_the_conversation_to_staff(make_app, db_session):
    chat = Chat(make_app(OFFICE_HOURS="周一至周五 8:30–17:00"))
    chat.say("你好")
    chat.say("公司拖欠工资怎么办")
    reply = chat.say("转人工")
    assert "周一至周五 8:30–17:00" in reply and "结束人工" in reply  # when to expect an answer
    assert worker(db_session).owner == "staff"
    e = escalation(db_session)
    assert (e.reason, e.status) == ("asked", "open")
    said = [t["content"] for t in e.transcript if t["direction"] == "in"]
    assert said[:2] == ["你好", "公司拖欠工资怎么办"]
    assert any(t["direction"] == "out" for t in e.transcript)  # the bot's replies are there too


@pytest.mark.parametrize("how,expected", [(("say", "转人工"), "人工服务"), (("say", "轉人工"), "人工服務"),
                                          (("say", "人工客服"), "人工服务"), (("click", "HANDOFF"), "人工服务")])
def test_every_way_of_asking_opens_one_escalation(chat, db_session, how, expected):
    kind, value = how
    reply = chat.say(value) if kind == "say" else chat.event("CLICK", value)
    assert expected in reply  # a worker who writes Traditional is answered in Traditional
    assert escalation(db_session).reason == "asked"


def test_handoff_from_the_menu_number(chat, db_session):
    chat.say("菜单")
    assert "人工服务" in chat.say("6")
    assert worker(db_session).owner == "staff"


def test_unhelpful_faq_answer_then_handoff_records_why(chat, db_session):
    reply = chat.say("公司拖欠工资怎么办")
    assert "12333" in reply
    while "回复「更多」" in reply:  # the vote is asked on the last page
        reply = chat.say("更多")
    assert "这个回答有帮助吗" in reply
    assert "转人工" in chat.say("2")
    chat.say("转人工")
    e = escalation(db_session)
    assert e.reason == "not_helpful"
    assert "公司拖欠工资怎么办" in [t["content"] for t in e.transcript]


def test_repeated_invalid_input_then_handoff_records_why(chat, db_session):
    chat.start("flow.legal_aid", state="phone", topic="欠薪/克扣工资", facts="三个月没发工资")
    for text in ("不知道", "没有手机", "123"):
        reply = chat.say(text)
    assert "转人工" in reply
    chat.say("转人工")
    e = escalation(db_session)
    assert e.reason == "invalid_input"
    assert [t["content"] for t in e.transcript if t["direction"] == "in"][-4:] == ["不知道", "没有手机", "123", "转人工"]


def test_while_open_messages_go_to_the_escalation_not_the_bot(chat, db_session):
    chat.say("转人工")
    reply = chat.say("公司拖欠工资怎么办")
    assert "工作人员" in reply and "12333" not in reply  # not answered by the FAQ
    assert "已经在为您转接人工" in chat.say("转人工")
    assert "结束人工" in reply  # every automatic reply says how to get back
    menu = chat.say("菜单")  # not swallowed: explained, with the way back
    assert "「菜单」暂时用不了" in menu and "结束人工" in menu and "使用菜单" in menu
    cancel = chat.say("取消")
    assert "「取消」暂时用不了" in cancel and "结束人工" in cancel
    assert "结束人工" in chat.click("LEGAL_AID")  # the menu waits too: no flow starts
    assert chat.state is None
    e = escalation(db_session)
    assert [t["content"] for t in e.transcript if t["direction"] == "in"][-1] == "公司拖欠工资怎么办"
    assert "回到自动服务" in chat.say("结束人工")
    assert worker(db_session).owner == "bot"
    assert len(db_session.scalars(select(Escalation)).all()) == 1
    inbound = db_session.scalars(select(Message.content).where(Message.direction == "in")).all()
    assert "公司拖欠工资怎么办" in inbound  # still logged like every message


@pytest.mark.parametrize("question", ["你是机器人吗", "你是不是机器人啊", "你是真人吗"])
def test_asking_whether_this_is_a_robot_is_not_a_handoff(chat, db_session, question):
    reply = chat.say(question)
    assert "机器人" in reply and "回复「转人工」" in reply and "已为您转接" not in reply
    assert worker(db_session).owner == "bot"
    assert db_session.scalars(select(Escalation)).all() == []


def test_the_handoff_menu_key_while_open_says_it_is_already_open(chat, db_session):
    chat.say("转人工")
    assert "已经在为您转接" in chat.event("CLICK", "HANDOFF")
    assert len(db_session.scalars(select(Escalation)).all()) == 1


@pytest.mark.parametrize("words,expected", [("结束人工", "回到自动服务"), ("返回机器人", "回到自动服务"),
                                            ("結束人工", "回到自動服務")])
def test_worker_ends_the_handoff_and_the_bot_answers_again(chat, db_session, words, expected):
    chat.say("转人工")
    assert expected in chat.say(words)
    e = escalation(db_session)
    assert (e.status, e.closed_by) == ("closed", "worker") and e.closed_at is not None
    assert worker(db_session).owner == "bot"
    assert "12333" in chat.say("公司拖欠工资怎么办")


def test_the_end_of_a_handoff_shows_the_menu_and_its_numbers_work(chat, db_session):
    chat.say("转人工")
    reply = chat.say("结束人工")
    assert "回到自动服务" in reply and "2 入会申请" in reply
    assert "同意" in chat.say("2")  # 2 入会申请: the consent notice
    assert chat.state == ("membership", "consent")


def test_staff_close_it_and_the_worker_is_told(chat, db_session):
    chat.say("转人工")
    chat.say("老板三个月没发工资，怎么办")
    e = escalation(db_session)
    assert handoff.close_by_staff(db_session, e, "王老师", "已电话联系您，建议先申请劳动仲裁。") is True
    db_session.commit()
    e = escalation(db_session)
    assert (e.status, e.closed_by) == ("closed", "王老师") and e.closed_at is not None
    assert e.transcript[-1]["content"] == "已电话联系您，建议先申请劳动仲裁。"
    assert worker(db_session).owner == "bot"
    notice = db_session.scalars(select(Outbox)).one()
    assert notice.kind == "text" and notice.worker_id == e.worker_id and notice.status == "pending"
    assert "王老师" in notice.payload["content"] and "劳动仲裁" in notice.payload["content"]
    assert notice.dedupe_key == f"handoff-closed:{e.id}"
    assert "12333" in chat.say("公司拖欠工资怎么办")  # the bot answers again


def test_closing_twice_queues_one_notice(chat, db_session):
    chat.say("转人工")
    e = escalation(db_session)
    handoff.close_by_staff(db_session, e, "王老师", "已处理")
    db_session.commit()
    assert handoff.close_by_staff(db_session, escalation(db_session), "李老师", "再次处理") is False
    db_session.commit()
    assert len(db_session.scalars(select(Outbox)).all()) == 1
    assert escalation(db_session).closed_by == "王老师"


def test_each_handoff_gets_its_own_notice(chat, db_session):
    for note in ("第一次", "第二次"):
        chat.say("转人工")
        open_one = db_session.scalars(select(Escalation).where(Escalation.status == "open")).one()
        handoff.close_by_staff(db_session, open_one, "王老师", note)
        db_session.commit()
        db_session.expire_all()
    assert [o.payload["content"].split("：", 1)[1][:3] for o in db_session.scalars(select(Outbox))] == ["第一次", "第二次"]


def test_a_flow_paused_by_the_handoff_can_be_continued_after_staff_close_it(chat, db_session):
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    chat.say("转人工")
    handoff.close_by_staff(db_session, escalation(db_session), "王老师", "已回电")
    db_session.commit()
    assert "描述情况" in chat.say("继续")
    assert chat.state == ("legal_aid", "facts")
    dialog = db_session.scalars(select(Dialog)).one()
    assert dialog.slots == {"topic": "欠薪/克扣工资"}
