"""The message path's statements: what SQLite runs for a message, and what it runs holding the write lock.

SQLite's own trace (sqlite3's set_trace_callback) records every statement as the database ran it,
BEGIN IMMEDIATE and COMMIT included; the replies are checked as always.
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from bot.extensions import db
from bot.models import Dialog, Message, RouteLog, Worker
from bot.simulator import WeChatSim
from tests.support import sqlite_only

pytestmark = sqlite_only


@contextmanager
def sqlite_trace(app):
    """Every statement SQLite runs on the app's connections while the block runs (first words only)."""
    ran: list[str] = []

    def trace(sql: str) -> None:
        ran.append(re.sub(r"\s+", " ", sql.strip())[:60])

    with app.app_context():
        engine = db.engine

    def on_checkout(dbapi_connection, _record, _proxy):
        dbapi_connection.set_trace_callback(trace)

    def on_checkin(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(None)

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    try:
        yield ran
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "checkin", on_checkin)


def under_the_lock(ran: list[str]) -> list[str]:
    """The statements between BEGIN IMMEDIATE and the COMMIT or ROLLBACK after it."""
    held, inside = [], False
    for sql in ran:
        if sql.startswith("BEGIN IMMEDIATE"):
            inside = True
        elif sql.startswith(("COMMIT", "ROLLBACK")):
            inside = False
        elif inside:
            held.append(sql)
    return held


def verb(sql: str) -> str:
    match = re.match(r"(SELECT|INSERT INTO \w+|UPDATE \w+|DELETE FROM \w+)", sql)
    return match.group(1) if match else sql.split(" ")[0]


def test_a_question_takes_the_write_lock_for_its_writes_only(app):
    sim = WeChatSim(app.test_client(), app.config, openid="o_lean")
    sim.say("你好")  # the worker and their conversation exist
    with sqlite_trace(app) as ran:
        reply = sim.say("加班费怎么算")
    assert "加班" in reply
    assert [verb(sql) for sql in under_the_lock(ran)] == ["INSERT INTO message", "INSERT INTO message",
                                                          "INSERT INTO route_log", "UPDATE dialog"]
    before_lock = ran[:ran.index(next(s for s in ran if s.startswith("BEGIN IMMEDIATE")))]
    assert [verb(sql) for sql in before_lock] == ["SELECT"]  # the worker, the dialog, a stored reply: one read
    assert ran[-1].startswith("COMMIT")


def test_a_retry_of_an_answered_message_is_replayed_with_one_read_and_no_lock(app):
    sim = WeChatSim(app.test_client(), app.config, openid="o_retry_lean")
    xml = sim.xml("text", {"Content": "加班费怎么算"}, msg_id=4_400_000_001)
    first = sim.reply_of(sim.post(xml))
    with sqlite_trace(app) as ran:
        again = sim.reply_of(sim.post(xml))
    assert again == first
    assert [verb(sql) for sql in ran] == ["SELECT"]


def test_a_retry_is_answered_while_another_writer_holds_the_lock(app, database_url):
    sim = WeChatSim(app.test_client(), app.config, openid="o_retry_busy")
    xml = sim.xml("text", {"Content": "加班费怎么算"}, msg_id=4_400_000_002)
    first = sim.reply_of(sim.post(xml))
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. a job's batch: the webhook must not need the lock to replay
        assert sim.reply_of(sim.post(xml)) == first
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_first_message_creates_the_worker_holding_the_lock_from_the_start(app, db_session):
    sim = WeChatSim(app.test_client(), app.config, openid="o_new_lean")
    with sqlite_trace(app) as ran:
        assert "职工之家" in sim.say("菜单")
    held = [verb(sql) for sql in under_the_lock(ran)]
    assert held[:2] == ["SELECT", "INSERT INTO worker"]  # read again, under the lock, then the row
    assert {"INSERT INTO message", "INSERT INTO dialog"} <= set(held)
    assert db_session.scalar(select(func.count()).select_from(Worker)) == 1


def test_a_handler_that_writes_more_goes_round_again_holding_the_lock(app, db_session):
    # A hand-off (转人工) opens an escalation: not a write safe after an unlocked read.
    sim = WeChatSim(app.test_client(), app.config, openid="o_handoff_lean")
    sim.say("你好")
    with sqlite_trace(app) as ran:
        assert "人工" in sim.say("转人工")
    assert sum(sql.startswith("BEGIN IMMEDIATE") for sql in ran) == 1  # no write happened before it
    held = [verb(sql) for sql in under_the_lock(ran)]
    assert held[0] == "SELECT" and "INSERT INTO escalation" in held
    inbound = db_session.scalars(select(Message).where(Message.direction == "in")).all()
    assert [m.content for m in inbound] == ["你好", "转人工"]  # once each


def test_a_fallback_logs_its_route_without_holding_the_lock_for_the_read(app, db_session):
    sim = WeChatSim(app.test_client(), app.config, openid="o_fallback_lean")
    sim.say("你好")
    with sqlite_trace(app) as ran:
        sim.say("量子力学的波函数坍缩是什么意思")
    held = [verb(sql) for sql in under_the_lock(ran)]
    assert "INSERT INTO route_log" in held and "SELECT" not in held
    assert db_session.scalar(select(func.count()).select_from(RouteLog).where(RouteLog.decision == "fallback")) == 1


def test_the_dialog_version_moves_once_per_message(app, db_session):
    sim = WeChatSim(app.test_client(), app.config, openid="o_version")
    for text in ("你好", "加班费怎么算", "1"):
        sim.say(text)
    version = db_session.scalars(select(Dialog.version)).one()
    assert version == 3  # inserted at 1, then one version-checked update per later message
