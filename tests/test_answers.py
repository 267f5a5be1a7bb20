"""Free-text answers through the webhook: FAQ answer and vote, clarification, fallback, Traditional, pages."""
from __future__ import annotations

import re

from sqlalchemy import select

from bot import faq
from bot.models import Escalation, FeedbackVote, RouteLog


def test_question_answered_and_helpful_vote_recorded(chat, db_session):
    reply = chat.say("公司拖欠我三个月工资了怎么办")
    assert "12333" in reply and "（1/3）" in reply  # wage-arrears answer, first of three pages
    while "回复「更多」" in reply:
        reply = chat.say("更多")
    assert "这个回答有帮助吗" in reply
    assert "谢谢您的反馈" in chat.say("1")
    vote = db_session.scalars(select(FeedbackVote)).one()
    assert (vote.faq_id, vote.helpful) == ("legal.wage_arrears", True)


def test_not_helpful_vote_offers_a_human_with_the_reason(chat, db_session):
    reply = chat.say("最低工资是多少")
    while "回复「更多」" in reply:
        reply = chat.say("更多")
    assert "转人工" in chat.say("2")
    chat.say("转人工")
    assert db_session.scalars(select(FeedbackVote.helpful)).one() is False
    assert db_session.scalars(select(Escalation.reason)).one() == "not_helpful"


# Genuinely ambiguous questions; the router clarifies at least one of them (which one depends on
# its calibration, so the test picks the first it would ask back about).
AMBIGUOUS = ["干了三年半被裁了，能赔几个月的钱", "居家办公 注意事项", "补偿", "被辞退了怎么办", "假期", "工资问题"]


def test_ambiguous_question_is_clarified_and_the_number_understood(chat, db_session):
    from bot.nlu import route

    text = next((t for t in AMBIGUOUS if route(t).target == "clarify"), None)
    assert text is not None, "the router asked back about none of the ambiguous questions"
    reply = chat.say(text)
    assert "您是想问" in reply, chat.format_transcript()
    options = re.findall(r"^(\d)\. (.+)$", reply, re.M)
    assert len(options) >= 2
    number, title = options[0]
    answer = chat.say(number)
    first_page = faq.render(next(e.id for e in faq.all_entries() if e.title == title))[0]
    assert answer.startswith(first_page[:20])
    log = db_session.scalars(select(RouteLog)).one()
    assert (log.text, log.decision) == (text, "clarify")


def test_out_of_scope_message_gets_the_fallback_and_is_recorded(chat, db_session):
    reply = chat.say("明天北京会下雨吗")
    assert "暂时回答不了" in reply and "转人工" in reply
    assert db_session.scalars(select(RouteLog.decision)).one() == "fallback"


def test_traditional_question_is_answered_in_traditional(chat):
    reply = chat.say("週六加班公司不給加班費，怎麼辦？")
    assert "加班" in reply and "勞動法" in reply and "劳动法" not in reply


def test_long_answer_is_paged_and_each_page_fits_wechat(chat):
    pages = [chat.say("经济补偿金怎么算")]
    while "回复「更多」" in pages[-1] and len(pages) < 10:
        pages.append(chat.say("更多"))
    assert len(pages) >= 2 and "这个回答有帮助吗" in pages[-1]
    assert all(len(p.encode("utf-8")) < 2048 for p in pages)
    assert "第四十七条" in "".join(pages)
