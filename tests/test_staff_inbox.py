"""The hand-off inbox: a worker's 转人工 through the webhook, then staff work it at /staff."""
from __future__ import annotations

from sqlalchemy import select

from bot.extensions import db
from bot.models import AuditLog, Escalation, EscalationNote, Outbox, Worker


def escalate(chat, *lines):
    """The worker asks for a human through the real webhook (and says more)."""
    assert "人工" in chat.say("转人工")
    for line in lines:
        chat.say(line)
    with chat.app.app_context():
        escalation_id = db.session.scalars(select(Escalation.id)).one()
        db.session.remove()
    return escalation_id


def test_a_handoff_appears_in_the_unassigned_tab_with_the_conversation(chat, desk):
    chat.say("公司拖欠工资怎么办")
    eid = escalate(chat, "老板三个月没发工资了")
    wang = desk("wang")
    inbox = wang.page("/staff/inbox")
    assert f'data-escalation="{eid}"' in inbox and "职工要求转人工" in inbox
    case = wang.page(f"/staff/inbox/{eid}")
    assert "公司拖欠工资怎么办" in case and "老板三个月没发工资了" in case
    assert "窗口至" in case and "还可发 5 条" in case


def test_staff_reply_is_queued_once_and_moves_the_case_to_waiting(chat, desk, app):
    eid = escalate(chat)
    wang = desk("wang")
    token = wang.page(f"/staff/inbox/{eid}").split('name="token" type="hidden" value="')[1].split('"')[0]
    response = wang.post(f"/staff/inbox/{eid}/reply", {"text": "您好，请问单位全称是？", "token": token})
    assert response.status_code == 302
    again = wang.post(f"/staff/inbox/{eid}/reply", {"text": "您好，请问单位全称是？", "token": token})
    assert again.status_code == 302  # a double click: told it was sent, nothing queued twice
    with app.app_context():
        rows = db.session.scalars(select(Outbox).where(Outbox.purpose == "staff_reply")).all()
        assert [(r.payload["content"], r.status) for r in rows] == [("您好，请问单位全称是？", "pending")]
        escalation = db.session.get(Escalation, eid)
        assert escalation.assigned_to_id == wang.id and escalation.first_response_at is not None
    assert 'data-escalation="%d"' % eid in wang.page("/staff/inbox?tab=waiting")
    chat.say("是星光物流有限公司")
    assert 'data-escalation="%d"' % eid in wang.page("/staff/inbox?tab=mine")


def test_internal_notes_are_shown_to_staff_and_never_sent(chat, desk, app):
    eid = escalate(chat)
    wang = desk("wang")
    assert wang.post(f"/staff/inbox/{eid}/note", {"body": "已电话联系，明早回访"}).status_code == 302
    assert "已电话联系，明早回访" in wang.page(f"/staff/inbox/{eid}")
    with app.app_context():
        assert db.session.scalars(select(EscalationNote.body)).all() == ["已电话联系，明早回访"]
        assert db.session.scalars(select(Outbox)).all() == []


def test_assign_to_a_colleague_and_back(chat, desk, app):
    eid = escalate(chat)
    wang, li = desk("wang"), desk("li", name="李敏")
    wang.post(f"/staff/inbox/{eid}/assign", {"to": li.id})
    assert 'data-escalation="%d"' % eid in li.page("/staff/inbox?tab=mine")
    assert 'data-escalation="%d"' % eid not in wang.page("/staff/inbox?tab=unassigned")
    wang.post(f"/staff/inbox/{eid}/assign", {"to": 0})
    assert 'data-escalation="%d"' % eid in wang.page("/staff/inbox?tab=unassigned")


def test_close_tells_the_worker_asks_for_a_rating_and_hands_back_to_the_bot(chat, desk, app):
    from bot.services import handoff

    eid = escalate(chat)
    wang = desk("wang", name="王芳")
    assert wang.post(f"/staff/inbox/{eid}/close", {"message": "已帮您联系单位"}).status_code == 302
    with app.app_context():
        notice = db.session.scalars(select(Outbox)).one()
        assert "王芳" in notice.payload["content"] and "已帮您联系单位" in notice.payload["content"]
        assert "回复数字 1–5" in notice.payload["content"]
        worker = db.session.scalars(select(Worker)).one()
        assert worker.owner == "bot"
        assert handoff.rate(db.session, worker, 4).id == eid  # the lead wires the worker's "4" to this
        db.session.commit()
        assert handoff.rate(db.session, worker, 5) is None  # rated already: a later digit is not a rating
    case = wang.page(f"/staff/inbox/{eid}")
    assert "4 分" in case and "★★★★☆" in case
    assert "★★★★☆" in wang.page("/staff/inbox?tab=closed")
    assert "4" in export_row(app)["职工评分"]  # and in the escalations report
    assert "职工要求转人工" not in chat.say("公司拖欠工资怎么办")  # the bot answers again


def export_row(app) -> dict:
    from bot.services import export

    with app.app_context():
        (sheet,) = export.escalations(db.session)
        return dict(zip(sheet.headers, (str(v) for v in sheet.rows[0]), strict=True))


def test_reopen_gives_the_worker_back_to_staff_and_a_second_close_notifies_again(chat, desk, app):
    eid = escalate(chat)
    wang = desk("wang")
    wang.post(f"/staff/inbox/{eid}/close", {"message": ""})
    assert wang.post(f"/staff/inbox/{eid}/reopen").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Worker.owner)).one() == "staff"
    wang.post(f"/staff/inbox/{eid}/close", {"message": "再次处理完毕"})
    with app.app_context():
        assert len(db.session.scalars(select(Outbox)).all()) == 2
        assert db.session.get(Escalation, eid).status == "closed"


def test_a_reply_to_a_closed_case_is_refused_and_the_text_kept(chat, desk):
    eid = escalate(chat)
    wang = desk("wang")
    wang.post(f"/staff/inbox/{eid}/close", {"message": ""})
    response = wang.post(f"/staff/inbox/{eid}/reply", {"text": "补充一句", "token": "0"})
    assert response.status_code == 409 and "已结案" in response.get_data(as_text=True)


def test_first_response_target_overdue_is_flagged(chat, desk, clock):
    clock.set("2026-05-20 10:00")
    eid = escalate(chat)
    wang = desk("wang")
    assert 'class="overdue" data-escalation' not in wang.page("/staff/inbox")
    clock.advance(minutes=31)  # config/workbench.yaml: asked → first response within 30 minutes
    page = wang.page("/staff/inbox")
    assert f'class="overdue" data-escalation="{eid}"' in page and "已超时" in page


def test_window_closed_says_what_a_reply_becomes(chat, desk, clock):
    clock.set("2026-05-20 10:00")
    eid = escalate(chat)
    clock.advance(hours=49)
    wang = desk("wang")  # logged in now: a staff session lasts STAFF_SESSION_HOURS
    page = wang.page(f"/staff/inbox/{eid}")
    assert "窗口已关闭" in page and "回复会暂存，职工下次发消息时送达" in page


def test_canned_replies_fill_in_placeholders(chat, desk):
    eid = escalate(chat)
    wang = desk("wang", name="王芳")
    wang.post("/staff/canned", {"title": "问候", "body": "{姓名}您好，我是{工作人员}，{未知}"})
    page = wang.page(f"/staff/inbox/{eid}")
    assert "您您好，我是王芳，{未知}" in page  # no name on record yet: 您


def test_a_colleague_who_has_it_open_is_shown(chat, desk, clock):
    clock.set("2026-05-20 10:00")
    eid = escalate(chat)
    wang, li = desk("wang", name="王芳"), desk("li", name="李敏")
    wang.post(f"/staff/inbox/{eid}/presence", {"typing": "1"})
    notice = li.post(f"/staff/inbox/{eid}/presence", {"typing": "0"}).get_data(as_text=True)
    assert "王芳 也在查看这个会话，正在输入回复" in notice
    clock.advance(seconds=30)  # the page reports every 5 s; a closed tab drops out
    assert "王芳" not in li.post(f"/staff/inbox/{eid}/presence").get_data(as_text=True)


def test_the_timeline_shows_what_wechat_answered_for_a_failed_reply(chat, desk, app):
    eid = escalate(chat)
    wang = desk("wang")
    wang.post(f"/staff/inbox/{eid}/reply", {"text": "请提供劳动合同照片", "token": "0"})
    with app.app_context():
        row = db.session.scalars(select(Outbox)).one()
        row.status, row.last_error = "failed", "45015 response out of time limit"
        db.session.commit()
    timeline = wang.page(f"/staff/inbox/{eid}/timeline")
    assert "发送失败" in timeline and "45015 response out of time limit" in timeline
    with app.app_context():
        assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "escalation.reply")).all()


def test_a_refused_reply_or_note_keeps_what_staff_typed(chat, desk):
    eid = escalate(chat)
    wang = desk("wang")
    long_reply = "很长的回复" * 121  # 605 characters: over the 600 a reply may have
    response = wang.post(f"/staff/inbox/{eid}/reply", {"text": long_reply, "token": "0"})
    assert response.status_code == 400 and long_reply in response.get_data(as_text=True)
    response = wang.post(f"/staff/inbox/{eid}/note", {"body": "   "})
    assert response.status_code == 400 and "备注不能为空" in response.get_data(as_text=True)
    stale = wang.post(f"/staff/inbox/{eid}/reply", {"text": "旧页面上写的", "token": "7"})
    assert stale.status_code == 409 and "页面已过期" in stale.get_data(as_text=True)
    assert "旧页面上写的" in stale.get_data(as_text=True)
