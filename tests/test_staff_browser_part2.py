"""The workbench's part 2 in real Chromium against the live app: workers through the real webhook, staff in
the browser, notices delivered by the outbox sender to `wechat_api` (a real HTTP server standing in for
the WeChat API), and a second worker process (gunicorn) sharing the database. Screenshots go to
build/screenshots/.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import select

from bot import faq
from bot.clock import LOCAL_TZ, aware, local_now, now
from bot.models import LegalAidBooking, LegalAidSlot
from bot.simulator import WeChatSim
from bot.storage import write_transaction
from tests.support import APP_ID, Chat, database
from tests.test_flow_home_office import CONSENT
from tests.test_staff_browser import WAIT, account, api, log_in, send_outbox, sent_texts  # noqa: F401 – api: fixture
from tests.test_staff_desks import FEVER

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parent.parent
QUESTION = "骑手摔车了谁管"  # the router falls back on it today
ENTRY, ENTRY_TITLE = "legal.work_injury", "工伤怎么认定"
NEAR_MISS = "合同能源管理是什么意思"  # answered, unsure, with a contract entry



def registration() -> list[tuple[str, str]]:
    """A home-office period from today for a week, in the words a worker would use."""
    end = local_now().date() + timedelta(days=7)
    return [("北京市某某科技有限公司", "街道和社区"), ("朝阳区望京街道花家地社区", "居住地址"),
            ("花家地西里3号楼2单元501", "哪天开始"), ("今天", "哪天结束"), (f"{end.month}月{end.day}日", "报到"),
            ("1", "请确认"), ("1", "报备成功")]


def registered(app, openid: str) -> Chat:
    chat = Chat(app, openid=openid)
    assert "单独同意" in chat.click("HOME_OFFICE")
    chat.expect(*CONSENT, *registration())
    return chat


def workbook(download, tmp_path):
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return load_workbook(path)


def answered_by(app, reply: str, faq_id: str) -> bool:
    with app.app_context():
        return faq.render(faq_id)[0][:30] in reply


# -- a second worker process on the same database ------------------------------------------------------
class Http:
    """What WeChatSim needs of a client, over real HTTP to another process."""

    def __init__(self, base: str):
        self.base = base

    def post(self, path: str, data: bytes, headers: dict):
        return requests.post(self.base + path, data=data, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def second_process(live_server, database_url, tmp_path):
    """gunicorn (one worker, as in production: the router preloaded in the master) on this test's database."""
    port, log = free_port(), open(tmp_path / "gunicorn.log", "wb")
    env = {**os.environ, "DATABASE_URL": database_url, "WECHAT_TOKEN": "test-token", "WECHAT_APP_ID": APP_ID,
           "WECHAT_AES_KEY": "", "ENV": "development"}
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                                "app:create_app()"], cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/wechat", timeout=2)
            break
        except requests.ConnectionError:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text(errors="replace")
            time.sleep(0.5)
    else:
        pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text(errors="replace"))
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def worker_of(base: str, openid: str) -> WeChatSim:
    return WeChatSim(Http(base), {"WECHAT_TOKEN": "test-token", "WECHAT_AES_KEY": "", "WECHAT_APP_ID": APP_ID},
                     openid=openid)


# -- the tests ----------------------------------------------------------------------------------------
def test_roster_flagged_first_answered_from_there_and_who_has_not_checked_in(browser, live_server, api, screenshot,
                                                                             tmp_path):
    app = live_server.app
    registered(app, "oF3kx_fever_Q9d2").expect(*FEVER)
    registered(app, "oV8mz_quiet_Lp41")
    wang = log_in(browser, live_server, "wang", account(app, "wang", "王芳"))
    wang.click("text=居家办公")
    rows = wang.locator("#roster tbody tr[data-state]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-state", "flagged")
    expect(rows.nth(0)).to_contain_text("38.5℃")
    expect(rows.nth(1)).to_have_attribute("data-state", "missing")
    expect(rows.nth(1)).to_contain_text("未打卡")
    expect(wang.locator("#roster-summary")).to_contain_text("尚未打卡 1 人")
    screenshot(wang, "home-office")
    with wang.expect_download() as download:
        wang.click("#export-roster")
    sheet = workbook(download, tmp_path).active
    assert [r[0] for r in list(sheet.iter_rows(values_only=True))[1:]] == ["异常", "未打卡"]

    rows.nth(0).locator("a.button").click()  # 去回复: the flagged check-in's conversation
    expect(wang.locator("#timeline")).to_contain_text("38.5")
    wang.fill("#reply-text", "您好，看到您今天体温38.5℃，请居家休息，需要帮助随时联系我们。")
    wang.click("#send-reply")
    expect(wang.locator(".flash")).to_contain_text("回复已排队发送")
    assert send_outbox(app)["sent"] == 1
    assert sent_texts(api) == ["您好，看到您今天体温38.5℃，请居家休息，需要帮助随时联系我们。"]

    wang.click("text=居家办公")
    wang.locator("#roster tr[data-state=missing] button[data-contact]").click()  # reach the one who has not
    expect(wang.locator("h1")).to_contain_text("工作人员主动联系")
    expect(wang.locator("#reply-text")).to_be_visible()


def test_the_lawyers_day_with_one_attended_and_one_no_show(browser, live_server, api, screenshot):
    app = live_server.app
    with database(app) as session:
        write_transaction(session)
        starts = now() + timedelta(hours=2)
        slot = LegalAidSlot(starts_at=starts, ends_at=starts + timedelta(hours=3), capacity=3, place="市总工会一楼接待室")
        session.add(slot)
        session.commit()
        slot_id = slot.id
    for openid, facts, phone in (("o_client_a", "公司三个月没发工资", "13812345678"),
                                 ("o_client_b", "被辞退没有任何补偿", "13912345678")):
        Chat(app, openid=openid).expect(("法律援助", "哪类问题"), ("1", "描述情况"), (facts, "请选择咨询时段"),
                                        ("1", "手机号"), (phone, "请确认"), ("1", "预约成功"))
    with database(app) as session:  # the consultation has begun
        write_transaction(session)  # a writer from the start: the live server may be writing too
        slot = session.get(LegalAidSlot, slot_id)
        slot.starts_at, slot.ends_at = now() - timedelta(minutes=10), now() + timedelta(hours=2)
        day = aware(slot.starts_at).astimezone(LOCAL_TZ).date()
        for booking in session.scalars(select(LegalAidBooking)):
            booking.day = day
        session.commit()
    lawyer = log_in(browser, live_server, "lawyer", account(app, "lawyer", "刘律师"))
    lawyer.goto(f"{live_server.url}/staff/legal-aid?day={day.isoformat()}")
    seats = lawyer.locator("tr[data-booking]")
    expect(seats).to_have_count(2)
    expect(seats.nth(0)).to_contain_text("公司三个月没发工资")
    expect(seats.nth(0)).to_contain_text("13812345678")
    seats.nth(0).locator("button[data-mark=attended]").click()
    expect(lawyer.locator(".flash")).to_contain_text("已标记为到场")
    lawyer.locator("tr[data-booking]").nth(1).locator("button[data-mark=no_show]").click()
    expect(lawyer.locator(".flash")).to_contain_text("已标记为未到场")
    expect(lawyer.locator("tr[data-booking] [data-status]")).to_have_text(["已到场", "未到场"])
    screenshot(lawyer, "legal-aid")
    lawyer.click("text=管理时段和名额")
    expect(lawyer.locator("#add-slot")).to_be_visible()
    screenshot(lawyer, "legal-aid-slots")


def test_a_fallen_back_question_is_taught_and_answered_by_a_second_process(browser, live_server, second_process,
                                                                           screenshot):
    app = live_server.app
    remote = worker_of(second_process, "o_remote_worker")
    assert not answered_by(app, remote.say(QUESTION), ENTRY)  # the second process falls back too
    Chat(app, openid="o_local_worker").say(QUESTION)
    Chat(app, openid="o_near_miss").say(NEAR_MISS)
    Chat(app, openid="o_happy").say("公司拖欠工资怎么办")
    Chat(app, openid="o_human").say("转人工")
    boss = log_in(browser, live_server, "boss", account(app, "boss", "赵主任", role="admin"))
    boss.click("text=知识库")
    for name in ("messages", "answered", "topics", "handoffs", "ratings"):
        expect(boss.locator(f"svg.chart[data-chart={name}]")).to_be_visible()
    expect(boss.locator("svg.chart[data-chart=messages] rect")).to_have_count(1)
    expect(boss.locator("svg.chart[data-chart=topics]")).to_contain_text("拖欠")
    row = boss.locator(f"#questions tr[data-question='{QUESTION}']")
    expect(row).to_contain_text("2")  # asked twice: here and in the second process
    screenshot(boss, "insights")

    row.locator("select").select_option(ENTRY)
    row.locator("button[data-learn=example]").click()
    expect(boss.locator(".flash")).to_contain_text(f"已加为「{ENTRY_TITLE}」的例句")
    started = time.monotonic()
    reply = ""
    while time.monotonic() - started < 120 and not answered_by(app, reply, ENTRY):
        time.sleep(1)
        reply = remote.say(QUESTION)  # the same question again, to the other process
    assert answered_by(app, reply, ENTRY), reply
    print(f"\nthe second process answered with the new example after {time.monotonic() - started:.1f} s")

    near = boss.locator(f"#questions tr[data-question='{NEAR_MISS}']")
    expect(near).to_contain_text("不确定地回答")
    near.locator("button[data-learn=out_of_scope]").click()
    expect(boss.locator(".flash")).to_contain_text("已标为超出服务范围")
    expect(boss.locator("#overlay")).to_contain_text(NEAR_MISS)
    started, reply = time.monotonic(), ""
    while time.monotonic() - started < 120 and "暂时回答不了" not in reply:
        time.sleep(1)
        reply = worker_of(second_process, "o_remote_near").say(NEAR_MISS)
    assert "暂时回答不了" in reply, reply
    screenshot(boss, "insights-overlay")


def test_a_privacy_request_exported_then_deleted_and_the_worker_told(browser, live_server, api, screenshot, tmp_path):
    app = live_server.app
    worker = registered(app, "o_private_worker")
    worker.expect(*FEVER)
    assert "已收到您删除个人信息的申请" in worker.say("删除我的信息")
    boss = log_in(browser, live_server, "boss", account(app, "boss", "赵主任", role="admin"))
    boss.click("text=个人信息申请")
    boss.locator("tr[data-request] a").first.click()
    expect(boss.locator("[data-table=health_checkin]")).to_contain_text("38.5")
    expect(boss.locator("#summary")).to_contain_text("健康打卡：1 条")
    screenshot(boss, "privacy-request")
    with boss.expect_download() as download:
        boss.click("#privacy-export")
    book = workbook(download, tmp_path)
    assert "健康打卡" in book.sheetnames and "居家办公报备" in book.sheetnames
    boss.once("dialog", lambda dialog: dialog.accept())
    boss.click("#privacy-delete")
    expect(boss.locator(".flash")).to_contain_text("已删除该职工的")
    expect(boss.locator("#request-status")).to_contain_text("已删除")
    expect(boss.locator("[data-table=health_checkin]")).to_contain_text("无")
    assert send_outbox(app)["sent"] == 1
    assert "已经全部删除" in sent_texts(api)[-1]
    boss.goto(live_server.url + "/staff/audit?action=privacy.")
    expect(boss.locator("tr[data-action='privacy.delete']")).to_have_count(1)
    expect(boss.locator("tr[data-action='privacy.export']")).to_have_count(1)


def test_a_handoff_to_wechats_tool_is_listed_as_in_that_tool(browser, live_server, make_app, screenshot):
    kf_app = make_app(HANDOFF_TO="wechat_kf", WECHAT_KF_ACCOUNT="kf2001@gh_union_account")  # same database
    assert Chat(kf_app, openid="o_kf_worker").say("转人工") == "[transfer_customer_service]"
    wang = log_in(browser, live_server, "wang", account(live_server.app, "wang", "王芳"))
    expect(wang.locator(".count[data-tab=kf]")).to_have_text("1")
    expect(wang.locator(".count[data-tab=unassigned]")).to_have_text("0")
    wang.goto(live_server.url + "/staff/inbox?tab=kf")
    expect(wang.locator("[data-channel=wechat_kf]")).to_contain_text("在微信客服工具中 · kf2001@gh_union_account")
    screenshot(wang, "inbox-wechat-kf")
