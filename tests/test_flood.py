"""Flood control: beyond FLOOD_MESSAGES in FLOOD_SECONDS a worker is told once to slow down; the rest
is logged, not routed; other workers are answered as always. The count is the message log itself,
so every process sees the same one."""
from __future__ import annotations

from sqlalchemy import func, select

from bot import texts
from bot.models import Dialog, Message, RouteLog, Worker
from bot.simulator import WeChatSim


def test_a_worker_over_the_limit_is_told_once_and_the_rest_is_logged_not_routed(make_app, db_session, clock):
    clock.set("2026-03-02 10:00")
    app = make_app(FLOOD_MESSAGES=3, FLOOD_SECONDS=60)
    flooder = WeChatSim(app.test_client(), app.config, openid="o_flood")
    replies = [flooder.say(text) for text in ("你好", "加班费怎么算", "菜单", "量子力学是什么", "哈哈哈", "取消")]
    assert "职工之家" in replies[2] and "加班" in replies[1]
    assert replies[3] == texts.FLOOD and "请稍后再发" in replies[3]
    assert replies[4:] == ["", ""]  # "success": nothing more to read
    inbound = db_session.scalars(select(Message.content).where(Message.direction == "in").order_by(Message.id)).all()
    assert inbound == ["你好", "加班费怎么算", "菜单", "量子力学是什么", "哈哈哈", "取消"]  # every one logged
    routed = db_session.scalars(select(RouteLog.decision).order_by(RouteLog.id)).all()
    assert routed == ["answer", "answer"]  # 你好, 加班费怎么算; 量子力学… (a fallback) was not routed
    assert db_session.scalars(select(Dialog.version)).one() == 3  # the conversation moved with the first three only

    clock.advance(seconds=61)
    assert "加班" in flooder.say("加班费怎么算")  # the rate dropped: answered again


def test_other_workers_are_answered_while_one_floods(make_app, clock):
    clock.set("2026-03-02 10:00")
    app = make_app(FLOOD_MESSAGES=2)
    flooder = WeChatSim(app.test_client(), app.config, openid="o_flood_a")
    other = WeChatSim(app.test_client(), app.config, openid="o_calm_b")
    for _ in range(5):
        flooder.say("在吗")
    assert "加班" in other.say("加班费怎么算")


def test_the_limit_is_shared_by_every_process(make_app, db_session, clock):
    # Two apps on one database stand for two server processes; a worker's messages alternate.
    clock.set("2026-03-02 10:00")
    one, two = make_app(FLOOD_MESSAGES=3), make_app(FLOOD_MESSAGES=3)
    sims = [WeChatSim(a.test_client(), a.config, openid="o_two_procs") for a in (one, two)]
    replies = [sims[i % 2].say(f"你好{i}") for i in range(5)]
    assert replies[3] == texts.FLOOD and replies[4] == ""
    assert db_session.scalar(select(func.count()).select_from(Worker)) == 1


def test_events_are_never_held_back(make_app, db_session, clock):
    clock.set("2026-03-02 10:00")
    app = make_app(FLOOD_MESSAGES=2)
    sim = WeChatSim(app.test_client(), app.config, openid="o_flood_unsub")
    for _ in range(4):
        sim.say("在吗")
    sim.send("event", {"Event": "unsubscribe"}, create_time=1_772_000_000)
    worker = db_session.scalars(select(Worker)).one()
    assert worker.subscribed is False  # an unsubscribe is processed whatever the rate


def test_zero_turns_flood_control_off(make_app):
    app = make_app(FLOOD_MESSAGES=0)
    sim = WeChatSim(app.test_client(), app.config, openid="o_unlimited")
    assert all(sim.say("你好") for _ in range(6))
