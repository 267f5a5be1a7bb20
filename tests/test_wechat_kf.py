"""HANDOFF_TO=wechat_kf: 转人工 goes to WeChat's own customer-service tool, and the bot stays silent
for that worker until WeChat's kf_close_session releases them."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import create_app
from bot.models import AuditLog, Escalation, Message, Worker
from bot.settings import UnsafeSettings
from tests.support import PRODUCTION, Chat, database

ACCOUNT = "kf2001@gh_union_account"



@pytest.fixture
def kf_app(make_app):
    return make_app(HANDOFF_TO="wechat_kf", WECHAT_KF_ACCOUNT=ACCOUNT)


def raw(chat) -> str:
    return chat.sim.last_response.get_data(as_text=True)


def kf_event(chat, event: str, **fields) -> str:
    from tests.support import _event_times

    return chat.sim.send("event", {"Event": event, **fields}, create_time=next(_event_times))


def owner(app, openid="o_worker_1") -> str:
    with database(app) as session:
        return session.scalars(select(Worker.owner).where(Worker.openid == openid)).one()


def test_handoff_replies_transfer_customer_service_to_the_named_account(kf_app):
    chat = Chat(kf_app)
    assert chat.say("转人工") == "[transfer_customer_service]"
    xml = raw(chat)
    assert "<MsgType><![CDATA[transfer_customer_service]]></MsgType>" in xml
    assert f"<TransInfo><KfAccount><![CDATA[{ACCOUNT}]]></KfAccount></TransInfo>" in xml
    assert owner(kf_app) == "wechat_kf"
    with database(kf_app) as session:
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.channel, escalation.kf_account, escalation.status) == ("wechat_kf", ACCOUNT, "open")


def test_without_an_account_the_transfer_names_none(make_app):
    chat = Chat(make_app(HANDOFF_TO="wechat_kf"))
    chat.say("转人工")
    assert "transfer_customer_service" in raw(chat) and "TransInfo" not in raw(chat)


def test_the_bot_stays_silent_until_the_session_is_released(kf_app):
    chat = Chat(kf_app)
    chat.say("转人工")
    # waiting in the tool's queue: WeChat still posts the messages here; each is passed on, unanswered
    for said in ("公司拖欠工资怎么办", "菜单", "1", "取消"):
        assert chat.say(said) == "[transfer_customer_service]", said
    assert chat.send("image", {"PicUrl": "http://example.invalid/p.jpg", "MediaId": "m1"}) == "[transfer_customer_service]"
    assert chat.click("LEGAL_AID") == "" and raw(chat) == "success"  # events are never forwarded
    # a 客服 takes the session, passes it on, closes it
    assert kf_event(chat, "kf_create_session", KfAccount="kf2002@gh_union_account") == ""
    assert chat.say("还在吗") == "[transfer_customer_service]"
    assert "kf2002@gh_union_account" in raw(chat)  # later messages go to the 客服 who has the session
    assert kf_event(chat, "kf_switch_session", FromKfAccount="kf2002@gh_union_account",
                    ToKfAccount="kf2003@gh_union_account") == ""
    assert kf_event(chat, "kf_close_session", KfAccount="kf2003@gh_union_account") == ""
    assert owner(kf_app) == "bot"
    assert "拖欠" in chat.say("公司拖欠工资怎么办")  # the bot answers again
    with database(kf_app) as session:
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.status, escalation.closed_by, escalation.kf_account) == ("closed", "wechat_kf",
                                                                                    "kf2003@gh_union_account")
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.startswith("wechat_kf.")).order_by(AuditLog.id)).all()
        assert actions == ["wechat_kf.session_start", "wechat_kf.session_switch", "wechat_kf.session_close"]
        # nothing the worker sent was lost: the message log has it all, with the bot's transfers
        said = session.scalars(select(Message.content).where(Message.direction == "in")).all()
        assert "公司拖欠工资怎么办" in said and "还在吗" in said


def test_end_handoff_while_waiting_returns_to_the_bot(kf_app):
    chat = Chat(kf_app)
    chat.say("转人工")
    assert "回到自动服务" in chat.say("结束人工")
    assert owner(kf_app) == "bot"


def test_the_menu_button_asks_the_worker_to_type_instead_of_forwarding_the_click(kf_app):
    chat = Chat(kf_app)
    assert "请直接输入您的问题" in chat.click("HANDOFF")
    assert owner(kf_app) == "wechat_kf"
    assert chat.say("我要咨询工伤") == "[transfer_customer_service]"


def test_a_session_a_kf_started_is_listed_and_the_worker_released_after(kf_app, desk):
    chat = Chat(kf_app, openid="o_kf_started")
    chat.say("你好")
    kf_event(chat, "kf_create_session", KfAccount=ACCOUNT)
    assert owner(kf_app, "o_kf_started") == "wechat_kf"
    wang = desk("wang")
    inbox = wang.page("/staff/inbox?tab=kf")
    assert re.search(r'data-tab="kf">1<', inbox) and f"在微信客服工具中 · {ACCOUNT}" in inbox
    assert re.search(r'data-tab="unassigned">0<', inbox)  # not waiting for the workbench
    with database(kf_app) as session:
        escalation_id = session.scalars(select(Escalation.id)).one()
    case = wang.page(f"/staff/inbox/{escalation_id}")
    assert 'id="in-wechat-kf"' in case and 'id="reply-form"' not in case
    kf_event(chat, "kf_close_session", KfAccount=ACCOUNT)
    assert re.search(r'data-tab="kf">0<', wang.page("/staff/inbox?tab=kf"))


def test_the_workbench_default_is_unchanged(chat):
    assert "已为您转接人工服务" in chat.say("转人工")


def test_a_misspelt_handoff_setting_is_refused_in_production(database_url):
    with pytest.raises(UnsafeSettings, match="HANDOFF_TO"):
        create_app({**PRODUCTION, "TESTING": True, "DATABASE_URL": database_url, "HANDOFF_TO": "wechat"})
