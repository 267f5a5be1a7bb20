"""/dev/chat in a real browser: every menu key, a voice message and a location; a reload follows once."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from bot.extensions import db
from bot.models import Message, Worker
from bot.simulator import MENU_KEYS

WAIT = 15_000
pytestmark = pytest.mark.slow


def subscribes(app, openid: str) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Message).join(Worker, Message.worker_id == Worker.id)
                              .where(Worker.openid == openid, Message.kind == "event:subscribe"))
        db.session.remove()
        return n


def test_the_simulator_offers_every_menu_key_voice_and_location_and_a_reload_follows_once(
        browser, live_server, screenshot):
    page = browser.new_context(viewport={"width": 420, "height": 800}).new_page()
    page.goto(live_server.url + "/dev/chat?openid=o_sim_page")
    expect(page.locator(".row.bot .bubble").first).to_contain_text("欢迎关注职工之家", timeout=WAIT)
    expect(page.locator(".menu button")).to_have_count(len(MENU_KEYS))

    page.reload()
    expect(page.locator("#who")).to_contain_text("o_sim_page")
    page.locator(".menu button", has_text="我的预约").click()
    expect(page.locator(".row.bot .bubble").last).to_contain_text("没有待参加的法律援助预约", timeout=WAIT)
    assert subscribes(live_server.app, "o_sim_page") == 1  # the reload did not follow again

    page.fill("#t", "公司拖欠工资怎么办")
    page.click("#voice")
    expect(page.locator(".row.me .bubble").last).to_contain_text("🎤 公司拖欠工资怎么办")
    expect(page.locator(".row.bot .bubble").last).to_contain_text("12333", timeout=WAIT)
    page.fill("#t", "北京市朝阳区花家地西里")
    page.click("#place")
    expect(page.locator(".row.bot .bubble").last).to_contain_text("已收到您的位置：北京市朝阳区花家地西里",
                                                                    timeout=WAIT)
    screenshot(page, "simulator")
    with live_server.app.app_context():
        kinds = db.session.scalars(select(Message.kind).where(Message.direction == "in")).all()
        db.session.remove()
    assert {"voice", "location", "event:click"} <= set(kinds)
