"""The workbench in real Chromium against the live app: the worker through the real webhook, staff in the browser.

The outbox sender runs in the test and delivers to `wechat_api`, a real HTTP server standing in for
the WeChat API. Screenshots of the main pages go to build/screenshots/.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from bot import sender
from bot.clock import now
from bot.extensions import db
from bot.models import Escalation, MembershipApplication, Outbox, Worker
from bot.services import handoff, membership, staff
from bot.storage import write_transaction
from bot.wechat_api import client as api_client
from tests.support import Chat
from tests.test_flow_membership import OTHER_ID, apply

pytestmark = pytest.mark.slow
WAIT = 15_000  # ms; the live server's pages poll every second


def account(app, login: str, name: str, role: str = "staff") -> str:
    with app.app_context():
        write_transaction(db.session)
        _, password = staff.create(db.session, login, name, role)
        db.session.commit()
        db.session.remove()
    return password


def log_in(browser, server, login: str, password: str):
    page = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN").new_page()
    page.goto(server.url + "/staff/inbox")
    expect(page).to_have_url(server.url + "/staff/login?next=%2Fstaff%2Finbox")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button.primary")
    expect(page.locator("header.top")).to_contain_text("收件箱")
    return page


def send_outbox(app) -> dict:
    with app.app_context():
        result = sender.send_pending(api_client())
        db.session.remove()
        return result


def sent_texts(wechat_api) -> list[str]:
    return [json.loads(req.get_data())["text"]["content"] for req, _ in wechat_api.log
            if req.path.endswith("/message/custom/send")]


@pytest.fixture
def api(wechat_api):
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    return wechat_api


def test_handoff_reply_collision_close_and_rating(browser, live_server, api, screenshot):
    app = live_server.app
    wang = log_in(browser, live_server, "wang", account(app, "wang", "王芳"))
    screenshot(wang, "inbox-empty")
    expect(wang.locator(".count[data-tab=unassigned]")).to_have_text("0")

    # The worker asks for a human in the simulator page, which posts signed XML to the real /wechat.
    worker = browser.new_context(viewport={"width": 420, "height": 800}).new_page()
    worker.goto(live_server.url + "/dev/chat?openid=o_browser_worker")
    expect(worker.locator(".bubble").first).to_be_visible()
    worker.fill("#t", "转人工")
    worker.press("#t", "Enter")
    expect(worker.locator(".row.bot .bubble").last).to_contain_text("已为您转接人工服务", timeout=WAIT)
    worker.fill("#t", "我的工资被拖欠三个月了")
    worker.press("#t", "Enter")
    expect(worker.locator(".row.bot .bubble").last).to_contain_text("已转给工作人员", timeout=WAIT)

    # It appears in the open inbox without a reload.
    row = wang.locator("tr[data-escalation]")
    expect(row).to_have_count(1, timeout=WAIT)
    expect(wang.locator(".count[data-tab=unassigned]")).to_have_text("1")
    screenshot(wang, "inbox")
    row.locator("a").click()
    expect(wang.locator("#timeline")).to_contain_text("我的工资被拖欠三个月了")
    expect(wang.locator("#window")).to_contain_text("还可发 5 条")

    # A colleague opening it sees who is on it, and that she is typing.
    li = log_in(browser, live_server, "li", account(app, "li", "李敏"))
    li.goto(wang.url)
    expect(li.locator("[data-presence=wang]")).to_contain_text("王芳 也在查看这个会话")
    wang.fill("#reply-text", "您好，我是工会的王芳。请问单位全称是什么？")
    wang.locator("#reply-text").dispatch_event("input")
    expect(li.locator("[data-presence=wang]")).to_contain_text("正在输入回复", timeout=WAIT)
    screenshot(li, "case-collision", full_page=False)

    # Wang sends; the sender delivers it to the WeChat API stand-in; the page shows it sent.
    wang.click("#send-reply")
    expect(wang.locator(".flash")).to_contain_text("回复已排队发送")
    expect(wang.locator("#timeline .msg.staff").last).to_contain_text("排队中")
    assert send_outbox(app)["sent"] == 1
    assert sent_texts(api) == ["您好，我是工会的王芳。请问单位全称是什么？"]
    expect(wang.locator("#timeline .msg.staff").last).to_contain_text("已发出", timeout=WAIT)
    screenshot(wang, "case", full_page=False)

    # Close: the worker is told and asked for a rating; the rating shows on the case and in the list.
    wang.fill("#close-message", "已联系单位财务，本周五前补发。")
    wang.once("dialog", lambda dialog: dialog.accept())
    wang.click("#close")
    expect(wang.locator(".flash")).to_contain_text("已结案")
    send_outbox(app)
    assert "回复数字 1–5" in sent_texts(api)[-1] and "本周五前补发" in sent_texts(api)[-1]
    with app.app_context():  # the worker's "5": the conversation layer calls this service
        write_transaction(db.session)  # first: a read transaction cannot become a writer while the pages poll
        worker_row = db.session.scalars(select(Worker).where(Worker.openid == "o_browser_worker")).one()
        assert worker_row.owner == "bot"
        assert handoff.rate(db.session, worker_row, 5) is not None
        db.session.commit()
        db.session.remove()
    wang.reload()
    expect(wang.locator("#rating")).to_contain_text("5 分")
    wang.goto(live_server.url + "/staff/inbox?tab=closed")
    expect(wang.locator("tr[data-escalation] .stars")).to_have_text("★★★★★")


def test_with_the_window_closed_the_page_says_the_reply_is_parked(browser, live_server, api, screenshot):
    app = live_server.app
    Chat(app, openid="o_quiet_worker").say("转人工")
    Chat(app, openid="oF3kx_fever_Q9d2").say("你好")
    Chat(app, openid="oV8mz_vote_Lp41").say("你好")
    with app.app_context():  # the worker's last message was 49 hours ago
        write_transaction(db.session)
        worker = db.session.scalars(select(Worker).where(Worker.openid == "o_quiet_worker")).one()
        worker.last_seen_at = now() - timedelta(hours=49)
        escalation = db.session.scalars(select(Escalation)).one()
        escalation.created_at, escalation_id = now() - timedelta(hours=49), escalation.id
        # Two more hand-offs of other kinds, for the inbox screenshot in the README.
        for openid, name, reason, detail in (("oF3kx_fever_Q9d2", "李秀英", "flagged_checkin", "体温 38.5℃，咳嗽"),
                                             ("oV8mz_vote_Lp41", "陈刚", "not_helpful", "加班费怎么算")):
            other = db.session.scalars(select(Worker).where(Worker.openid == openid)).one()
            handoff.open(db.session, other, reason, detail=detail)
            membership.submit(db.session, other, {  # a name on record (the list shows it)
                "name": name, "phone": "13800000000", "id": membership.protect_id(f"11010519900101{len(name)}02X"),
                "employer": "顺达快递", "has_union": "no", "district": "朝阳区", "industry": "快递物流"})
        db.session.commit()
        db.session.remove()
    wang = log_in(browser, live_server, "wang", account(app, "wang", "王芳"))
    wang.goto(live_server.url + "/staff/inbox?tab=open")
    expect(wang.locator("tr[data-escalation]")).to_have_count(3)
    expect(wang.locator(f"tr.overdue[data-escalation='{escalation_id}']")).to_have_count(1)
    screenshot(wang, "inbox-open")  # docs/inbox.png
    wang.goto(f"{live_server.url}/staff/inbox/{escalation_id}")
    expect(wang.locator("#window.closed")).to_contain_text("窗口已关闭")
    expect(wang.locator("#window")).to_contain_text("回复会暂存，职工下次发消息时送达")
    screenshot(wang, "case-window-closed", full_page=False)
    wang.set_viewport_size({"width": 390, "height": 844})  # a phone
    expect(wang.locator("#send-reply")).to_be_visible()
    screenshot(wang, "case-phone")
    wang.set_viewport_size({"width": 1280, "height": 860})
    wang.fill("#reply-text", "您好，材料已收到。")
    wang.click("#send-reply")
    expect(wang.locator(".flash")).to_contain_text("回复已排队发送")
    with app.app_context():
        row = db.session.scalars(select(Outbox)).one()
        assert (row.purpose, row.payload["content"]) == ("staff_reply", "您好，材料已收到。")


def test_applications_decided_exported_and_audited(browser, live_server, api, screenshot, tmp_path):
    app = live_server.app
    approved, rejected = Chat(app, openid="o_applicant_a"), Chat(app, openid="o_applicant_b")
    apply(approved)
    from tests.test_flow_membership import ANSWERS

    apply(rejected, [(said, fragment) if said != "110105 1988 0514 209x" else (OTHER_ID, fragment)
                     for said, fragment in ANSWERS])
    boss = log_in(browser, live_server, "boss", account(app, "boss", "赵主任", role="admin"))
    boss.goto(live_server.url + "/staff/applications")
    expect(boss.locator("tr[data-application]")).to_have_count(2)
    screenshot(boss, "applications")
    with app.app_context():
        first, second = db.session.scalars(select(MembershipApplication.id).order_by(MembershipApplication.id)).all()

    boss.goto(f"{live_server.url}/staff/applications/{first}")
    expect(boss.locator("#id-number")).to_contain_text("110105********209X")
    screenshot(boss, "application")
    boss.click("#approve")
    expect(boss.locator("#status")).to_have_text("已通过")

    boss.goto(f"{live_server.url}/staff/applications/{second}")
    boss.select_option("#reject-reason", "所填单位不在本市，请向工作所在地工会申请")
    boss.click("#reject")
    expect(boss.locator("#status")).to_have_text("未通过")

    assert send_outbox(app)["sent"] == 2
    assert any("已通过审核" in text for text in sent_texts(api))
    status = rejected.say("我的入会进度")
    assert "未通过" in status and "所填单位不在本市，请向工作所在地工会申请" in status

    boss.goto(live_server.url + "/staff/applications?status=approved")
    with boss.expect_download() as download:
        boss.click("#export-xlsx")
    path = tmp_path / "export.xlsx"
    download.value.save_as(path)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["张三"] and rows[1][3] == "110105********209X"

    boss.goto(live_server.url + "/staff/audit")
    expect(boss.locator("tr[data-action='application.export']")).to_have_count(1)
    expect(boss.locator("tr[data-action='application.approve']")).to_have_count(1)
    screenshot(boss, "audit")
    with app.app_context():
        assert membership.STATUS_LABELS[db.session.get(MembershipApplication, second).status] == "未通过"
