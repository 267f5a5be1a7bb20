"""Knowledge-base insights: unanswered questions grouped (most frequent first), not-helpful rates,
every routing decision recorded for the charts, and the charts drawn as SVG by the app."""
from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bot.clock import LOCAL_TZ, local_now
from bot.models import Escalation, RouteLog, Worker
from bot.services import insights
from tests.support import Chat, database



def questions(page: str) -> list[tuple[str, str]]:
    """(question, count) in the order the review list shows them."""
    return re.findall(r'<tr data-question="([^"]*)">\s*<td class="text">[^<]*<div class="muted">[^<]*</div></td>\s*'
                      r"<td>(\d+)</td>", page)


def test_questions_the_bot_could_not_answer_are_grouped_most_frequent_first(app, desk):
    for n, text in enumerate(["骑手摔车了谁管", "骑手摔车了，谁管？", "騎手摔車了誰管",
                              "今天北京天气怎么样啊朋友", "今天北京天气怎么样啊朋友"]):
        Chat(app, openid=f"o_asker_{n}").say(text)
    page = desk("wang").page("/staff/insights")
    listed = questions(page)
    assert [count for _, count in listed] == ["3", "2"]  # punctuation and Traditional read the same
    assert "摔" in listed[0][0] and listed[1][0] == "今天北京天气怎么样啊朋友"
    assert "答不了 3" in page  # how the bot handled them


def test_a_question_handled_leaves_the_review_list(app, desk):
    Chat(app).say("骑手摔车了谁管")
    wang = desk("wang")
    assert questions(wang.page("/staff/insights"))
    wang.post("/staff/insights/example", {"text": "骑手摔车了谁管", "faq_id": "legal.work_injury"})
    page = wang.page("/staff/insights")
    assert not questions(page) and "这段时间没有待处理的问题" in page
    assert "骑手摔车了谁管" in page.split('id="overlay"')[1]  # listed among the overlay's examples


def test_every_routing_decision_is_recorded_and_only_unsure_ones_keep_their_text(chat, app):
    chat.say("公司拖欠工资怎么办")  # answered, sure
    chat.say("明天北京会下雨吗")  # fallback
    with database(app) as session:
        rows = session.scalars(select(RouteLog).order_by(RouteLog.id)).all()
        assert [(r.decision, bool(r.text)) for r in rows] == [("answer", False), ("fallback", True)]
        assert rows[0].target == "legal.wage_arrears"


def test_not_helpful_rates_per_entry_worst_first(app, desk):
    for n, vote in enumerate(["2", "2", "1"]):
        chat = Chat(app, openid=f"o_voter_{n}")
        page = chat.say("加班费怎么算")
        while "更多" in page and "这个回答有帮助吗" not in page:
            page = chat.say("更多")
        chat.say(vote)
    votes = desk("wang").page("/staff/insights").split('id="votes"')[1]
    assert re.search(r'data-faq="legal.overtime_pay">.*?<td>1</td><td>2</td>\s*<td[^>]*>67%</td>', votes, re.S)


def test_the_charts_are_svg_drawn_by_the_app(app, desk):
    Chat(app).say("公司拖欠工资怎么办")
    Chat(app, openid="o_other").say("明天北京会下雨吗")
    Chat(app, openid="o_human").say("转人工")
    page = desk("wang").page("/staff/insights?days=7")
    for name in ("messages", "answered", "topics", "handoffs", "ratings"):
        assert f'<svg class="chart" data-chart="{name}"' in page, name
    chart = page.split('data-chart="messages"')[1].split("</svg>")[0]
    assert chart.count("<rect") == 1 and "3 条消息" in chart  # today: three workers wrote once each
    assert "50%（2 条问题）" in page.split('data-chart="answered"')[1].split("</svg>")[0]
    assert "拖欠" in page.split('data-chart="topics"')[1].split("</svg>")[0]
    assert "<script" not in page.split("<main>")[1]  # nothing runs in the page


def test_series_count_per_beijing_day(app):
    day = local_now().date() - timedelta(days=1)
    early = datetime.combine(day, time(0, 30), LOCAL_TZ).astimezone(UTC)  # 16:30 UTC the day before
    late = datetime.combine(day - timedelta(days=1), time(23, 30), LOCAL_TZ).astimezone(UTC)
    with database(app) as session:
        worker = Worker(openid="o_series")
        session.add(worker)
        session.flush()
        for at, rating in ((early, 4), (late, 2)):
            session.add(Escalation(worker_id=worker.id, reason="asked", created_at=at, status="closed", rating=rating,
                                   rated_at=at))
        session.commit()
        handoffs = {p.day: p.value for p in insights.handoffs(session, 7)}
        ratings = {p.day: (p.value, p.count) for p in insights.ratings(session, 7)}
    assert (handoffs[day], handoffs[day - timedelta(days=1)]) == (1, 1)
    assert (ratings[day], ratings[day - timedelta(days=1)]) == ((4.0, 1), (2.0, 1))


def test_worker_text_is_escaped_on_the_insights_page(app, desk):
    Chat(app).say("<script>alert(1)</script>今天天气")
    page = desk("wang").page("/staff/insights")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
