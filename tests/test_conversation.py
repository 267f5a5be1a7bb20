"""The conversation between flows, as a new worker meets it: lists, pages, script, switching, fallbacks.

Each test is a transcript: the worker says X, the bot answers Y, then the rows. The first test
holds the rule as a class: after ANY reply that shows a numbered list, a number picks from it.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot import texts
from bot.flows import FLOWS
from bot.models import Escalation, FeedbackVote, LegalAidSlot, Message, RouteLog, Worker

HINT = "不过现在没有可选的列表"
NUMBERED = re.compile(r"^\s*(?:回复\s*)?1[ .、．]", re.M)


def shows_a_list(reply: str) -> bool:
    return bool(NUMBERED.search(reply)) or "回复 1 " in reply


# Ways into a reply that shows a numbered list; each ends on such a reply.
SCENARIOS = {
    "welcome": lambda chat: chat.event("subscribe"),
    "menu": lambda chat: chat.say("菜单"),
    "fallback": lambda chat: chat.say("明天北京会下雨吗"),
    "short fallback": lambda chat: (chat.say("菜单"), chat.say("明天北京会下雨吗"))[-1],
    "nothing to cancel": lambda chat: chat.say("取消"),
    "nothing to resume": lambda chat: chat.say("继续"),
    "clarification": lambda chat: chat.say("补偿"),
    "end of a hand-off": lambda chat: (chat.say("转人工"), chat.say("结束人工"))[-1],
    "not-helpful answer": lambda chat: chat.say("最低工资是多少"),
    "unknown menu key": lambda chat: chat.click("NO_SUCH_KEY"),
    "which list": lambda chat: chat.say("5"),
    "vague request": lambda chat: chat.say("我想说一下我的情况"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_numbered_list_makes_its_numbers_answerable(chat, name):
    reply = SCENARIOS[name](chat)
    while "回复「更多」" in reply:
        reply = chat.say("更多")
    assert shows_a_list(reply), chat.format_transcript()
    answer = chat.say("1")
    assert HINT not in answer and "没看懂" not in answer, chat.format_transcript()


def test_the_welcome_menu_number_two_starts_the_membership_application(chat):
    assert "2 入会申请" in chat.event("subscribe")
    assert "回复 1 同意" in chat.say("2")
    assert chat.state == ("membership", "consent")


def test_a_bare_number_with_no_list_gets_a_short_hint_and_the_menu(chat, db_session):
    chat.say("你好")
    routed = db_session.scalars(select(RouteLog.id)).all()  # 你好 itself was routed (small talk)
    reply = chat.say("3")
    assert HINT in reply and "1 劳动法律咨询" in reply
    assert db_session.scalars(select(RouteLog.id)).all() == routed  # no FAQ guess was made for "3"
    assert "单独同意" in chat.say("3")  # the hint's menu answers the next number: 3 居家办公报备
    assert chat.state == ("home_office", "consent")


def test_a_list_is_answered_by_the_options_own_words(chat):
    chat.say("菜单")
    chat.say("明天北京会下雨吗")  # the menu was seen today: the short fallback
    assert "职工之家可以帮您" in chat.say("查看菜单")
    assert "已为您转接人工服务" in chat.say("转人工")


def test_after_a_fallback_six_means_a_human_not_the_fallback_again(chat, db_session):
    reply = chat.say("明天北京会下雨吗")  # first time today: the full menu
    assert "6 转人工" in reply
    assert "已为您转接人工服务" in chat.say("6")
    assert db_session.scalars(select(Escalation)).one().reason == "asked"


def test_the_fallback_is_short_once_the_menu_was_seen_today(chat, clock):
    clock.set("2026-12-02 10:00")
    full = chat.say("明天北京会下雨吗")
    assert "暂时回答不了" in full and "5 我的入会进度" in full
    short = chat.say("推荐一部电影")
    assert "暂时回答不了" in short and "1 转人工" in short and "2 查看菜单" in short
    assert "我的入会进度" not in short and len(short) < len(full) / 2
    clock.set("2026-12-03 10:00")
    assert "5 我的入会进度" in chat.say("推荐一部电影")  # a new day


# -- pages ----------------------------------------------------------------------------------------
def test_pages_show_the_count_the_words_that_work_and_the_end(chat, db_session):
    first = chat.say("公司拖欠工资怎么办")
    assert "（1/3）回复「更多」或「下一页」接着看" in first and "N 查看" not in first
    second = chat.say("下一页")
    assert "（2/3）" in second
    last = chat.say("更多")
    assert "（3/3）这个回答有帮助吗？回复 1 有帮助，2 没解决" in last
    after = chat.say("更多")
    assert "已经看完了（共3页）" in after and "12333" not in after  # never another topic's answer
    assert "谢谢您的反馈" in chat.say("有帮助")
    vote = db_session.scalars(select(FeedbackVote)).one()
    assert (vote.faq_id, vote.helpful) == ("legal.wage_arrears", True)


def test_asking_for_more_with_nothing_paged_is_not_a_page_of_something_else(chat):
    chat.say("你好")
    reply = chat.say("更多")
    assert "（2/" not in reply and "这个回答已经看完" not in reply


# -- the worker's script ----------------------------------------------------------------------------
def test_traditional_on_every_page_and_prompt_until_the_worker_writes_simplified(chat):
    first = chat.say("公司拖欠工資怎麼辦")
    assert "勞動" in first and "（1/3）" in first
    assert "勞動" in chat.say("更多")  # "更多" is the same in both scripts: stay in Traditional
    chat.say("更多")
    prompt = chat.say("法律援助")
    assert "問題" in prompt and "问题" not in prompt  # a flow prompt in Traditional too
    assert "描述" in chat.say("1") and "情況" in chat.transcript[-1][1]
    assert "已取消「預約法律援助」" in chat.say("取消")  # 取消 reads the same in both scripts
    back = chat.say("公司拖欠工资怎么办")  # Simplified-only characters: back to Simplified
    assert "劳动" in back and "勞動" not in back


# -- switching while a flow is in progress ------------------------------------------------------------
def test_a_menu_click_mid_flow_asks_before_leaving_the_draft(chat):
    chat.expect(("我要入会", "回复 1 同意"), ("1", "姓名"), ("张三", "身份证号"))
    reply = chat.click("LEGAL_AID")
    assert "您正在办理「入会申请」，还没填完" in reply and "1 是，去「预约法律援助」" in reply
    assert chat.state == ("membership", "id")
    assert "请输入18位身份证号" in chat.say("2")  # stay: the same step, nothing lost
    chat.click("LEGAL_AID")
    booking = chat.say("1")
    assert "哪类问题" in booking and "入会申请" in booking and "回复「继续」" in booking
    assert chat.state == ("legal_aid", "topic")
    assert "已取消「预约法律援助」" in chat.say("取消")
    assert "请输入18位身份证号" in chat.say("继续")  # the application, where it was left
    assert chat.slots["name"] == "张三"


def test_a_description_that_reads_like_a_question_can_still_be_the_description(chat, clock, db_session):
    clock.set("2022-05-20 10:00")
    db_session.add(LegalAidSlot(starts_at=datetime(2022, 5, 23, 6, tzinfo=UTC), ends_at=datetime(2022, 5, 23, 9, tzinfo=UTC),
                                capacity=2, place="职工法律服务中心"))
    db_session.commit()
    chat.expect(("法律援助", "哪类问题"), ("1", "描述情况"))
    question = "公司拖欠我三个月工资了怎么办？"
    reply = chat.say(question)
    assert "您是想先" in reply and "2 不是，这就是我要填的情况描述" in reply
    assert "请选择咨询时段" in chat.say("2")
    assert chat.slots["facts"] == question  # the words typed before were kept


# -- the confirmation screens ---------------------------------------------------------------------------
@pytest.mark.parametrize("flow, state", [("membership", "confirm"), ("legal_aid", "confirm"),
                                         ("home_office", "confirm")])
def test_every_confirmation_submits_with_1_and_changes_with_2(flow, state):
    step = next(s for s in FLOWS[flow].states if s["name"] == state)
    parse = step["parse"]
    assert parse("1") in (True, "submit") and parse("提交") in (True, "submit")
    assert parse("2") in (False, "edit") and parse("修改") in (False, "edit")


def test_confirmation_prompts_say_the_same_words(chat, app):
    """回复 1 提交，回复 2 修改 on every confirmation screen."""
    from bot.flows import home_office, legal_aid, membership

    assert "回复 1 提交，回复 2 修改" in home_office.ask_confirm(_Run({
        "employer": "某公司", "community": "某社区", "address": "某地址", "start_date": "2022-05-23",
        "end_date": "2022-05-29", "reported": True}))
    assert "回复 1 提交，回复 2 修改" in legal_aid.ask_confirm(_Run({
        "topic": "欠薪", "when": "5月24日", "phone": "13812345678", "mode": "in_person"}))
    with app.app_context():
        assert "回复 1 提交，回复 2 修改" in membership.summary(_Run({
            "name": "张三", "id": {"masked": "110105********209X"}, "phone": "13812345678", "employer": "某公司",
            "has_union": "no", "district": "朝阳区", "industry": "快递物流"}))


class _Run:
    """The one thing a prompt reads from a flow run: its slots."""

    def __init__(self, slots):
        self.slots = slots


# -- validation in words that fit ------------------------------------------------------------------------
def test_a_text_understood_but_too_long_is_not_called_unreadable(app, chat):
    chat.start("flow.membership", state="employer", consent=True, name="张三")
    reply = chat.say("北京" * 40)
    assert "内容太长了（80字）" in reply and "没看懂" not in reply


# -- personal numbers are masked before they are stored ------------------------------------------------------
def test_id_and_mobile_numbers_typed_anywhere_are_masked_in_every_log(chat, db_session):
    chat.say("我的身份证110105198805142090，电话13812345678，老板欠薪怎么办")
    chat.say("139 0000 1111 是我另一个号码")
    chat.say("天气怎么样 110105198805142091")  # a fallback: the route log
    chat.say("转人工")
    chat.say("我身份证是 11010519880514209X")  # during the hand-off: the escalation transcript
    db_session.expire_all()
    stored = [t["content"] for t in db_session.scalars(select(Escalation)).one().transcript]
    stored += db_session.scalars(select(Message.content)).all()
    stored += db_session.scalars(select(RouteLog.text)).all()
    everything = "\n".join(stored)
    for number in ("110105198805142090", "13812345678", "13900001111", "110105198805142091", "11010519880514209X"):
        assert number not in everything.replace(" ", ""), number
    assert "138****5678" in everything and "110105********2090" in everything


def test_the_worker_row_is_not_created_twice_for_one_sender(chat, db_session):
    chat.event("subscribe")
    chat.say("你好")
    assert len(db_session.scalars(select(Worker)).all()) == 1
    assert texts.MENU in chat.transcript[1][1]


# -- the example a prompt shows is always accepted ------------------------------------------------------------
SAMPLE_SLOTS = {
    "membership": {"consent": True, "name": "张三", "id": {"masked": "110105********209X", "hash": "x"},
                   "phone": "13812345678", "employer": "北京顺达快递有限公司", "has_union": "no", "district": "朝阳区",
                   "industry": "快递物流", "action": "submit"},
    "home_office": {"consent": True, "employer": "某公司", "community": "某社区", "address": "某地址",
                    "start_date": "2022-05-23", "end_date": "2022-05-29", "reported": True},
    "checkin": {"temperature": 36.5, "symptoms": ["无"], "test_result": "阴性"},
    "legal_aid": {"topic": "欠薪/克扣工资", "facts": "三个月没发工资", "offered": [], "when": "5月24日",
                  "phone": "13812345678", "phone_on_file": "13812345678"},
}


def examples_in(prompt: str) -> list[str]:
    """The examples after 例如：, one per 、 (up to the end of the line, a bracket or a semicolon)."""
    found = []
    for tail in re.findall(r"例如：?([^\n]+)", prompt):
        tail = re.split(r"[（；;。]|，或|，也", tail)[0]
        found += [piece.strip().removeprefix("回复").strip() for piece in tail.split("、") if piece.strip()]
    return found


@pytest.mark.parametrize("flow_name", sorted(FLOWS))
def test_every_example_a_prompt_shows_is_accepted_by_its_step(app, clock, flow_name):
    from bot.conversation import Conversation
    from bot.extensions import db
    from bot.flows.engine import FlowRun, step_of

    clock.set("2022-05-23 09:00")
    flow = FLOWS[flow_name]
    checked = 0
    with app.app_context():
        worker = Worker(openid="o_examples")
        db.session.add(worker)
        db.session.flush()
        run = FlowRun(Conversation(db.session, worker, app.config), None, SAMPLE_SLOTS[flow_name])
        for state in flow.states:
            if state.get("final") or "parse" not in state or state["name"] == "pending":  # pending: a status
                continue
            prompt = step_of(flow, state["name"]).prompt(run)
            for example in examples_in(prompt):
                state["parse"](example)  # raises Invalid if the step refuses its own example
                checked += 1
        db.session.rollback()
    assert checked >= 3


# -- two questions in one message -----------------------------------------------------------------------
def test_two_questions_in_one_message_are_both_answered_one_after_the_other(chat):
    from bot.nlu import route

    asked = "我想问下年假有几天，另外产假多少天"
    decided = route(asked)
    assert {decided.target, decided.second} == {"legal.annual_leave", "legal.maternity"}
    marks = {"legal.annual_leave": "年休假", "legal.maternity": "98天"}
    reply = chat.say(asked)
    assert f"您还问到「{faq_title(decided.second)}」" in reply and "回复「另一个问题」" in reply
    pages = [reply]
    while "回复「更多」" in pages[-1]:
        pages.append(chat.say("更多"))
    assert marks[decided.target] in "".join(pages)
    assert f"3 看另一个问题「{faq_title(decided.second)}」" in pages[-1]
    assert marks[decided.second] in chat.say("3")


def test_the_other_question_can_be_asked_for_in_words(chat):
    chat.say("被辞退了能拿多少补偿，社保断了怎么办")
    reply = chat.say("另一个问题")
    assert "社会保险" in reply and "经济补偿" not in reply.split("\n")[0]
    assert "刚才的问题都已经回答了" in chat.say("另一个问题")


def faq_title(target: str) -> str:
    from bot import faq

    return faq.title(target)


def test_personal_numbers_never_reach_the_application_log(app, caplog):
    """The one masking function guards the log handlers too (a logged message, an exception text)."""
    import logging

    from bot.masking import MaskingFilter

    caplog.handler.addFilter(MaskingFilter())  # what configure_logging puts on every real handler
    with caplog.at_level("INFO"):
        logging.getLogger("bot.test").warning("worker typed %s and %s", "11010519880514209X", "13812345678")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "11010519880514209X" not in logged and "13812345678" not in logged
    assert "110105********209X" in logged and "138****5678" in logged
    assert any(isinstance(f, MaskingFilter) for h in logging.getLogger().handlers for f in h.filters)


def test_events_that_do_not_converse_create_no_dialog_row(chat, db_session):
    """Unfollowing or a template delivery receipt neither locks nor creates the worker's Dialog row."""
    from bot.models import Dialog

    chat.event("unsubscribe")
    chat.send("event", {"Event": "TEMPLATESENDJOBFINISH", "MsgID": "200163836", "Status": "success"})
    chat.event("VIEW", "https://example.org")
    assert db_session.scalars(select(Dialog)).all() == []
    assert db_session.scalars(select(Worker)).one().subscribed is False
    chat.say("你好")
    assert len(db_session.scalars(select(Dialog)).all()) == 1
