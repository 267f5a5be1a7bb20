"""A delivery WeChat made is never lost: storage faults, the spool, late answers through the outbox.

WeChat waits 5 s for an answer and tries three times in all when it gets none; a response that came
later is lost. The faults are real ones: a full disk (a tiny tmpfs), a database file that is gone,
a server that is not there, a write lock another connection holds past WeChat's wait.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from bot import texts
from bot.extensions import db
from bot.models import Message, Outbox, Worker
from bot.simulator import WeChatSim
from tests.support import THREAD_TIMEOUT, sqlite_only

QUESTION, ANSWERED = "加班费怎么算", "加班"


def spool_of(app) -> Path:
    from bot import spool

    return spool.path_for(app.config, app.instance_path)


def kept(app) -> list[dict]:
    path = spool_of(app)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def rows(app, model, *where):
    with app.app_context():
        found = db.session.scalars(select(model).where(*where)).all()
        db.session.expunge_all()
        db.session.remove()
        return found


def drain(app) -> str:
    return app.test_cli_runner().invoke(args=["wechat", "spool"]).output


class HttpClient:
    """What WeChatSim needs of a client, over real HTTP, with WeChat's patience (a timeout)."""

    def __init__(self, base_url: str, timeout: float):
        self.base_url, self.timeout = base_url, timeout

    def post(self, path, data=None, headers=None):
        return requests.post(self.base_url + path, data=data, headers=headers, timeout=self.timeout)


@contextmanager
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=THREAD_TIMEOUT)


# -- the database is not there: kept in the spool, answered through the outbox when it is back -----

def test_a_message_for_an_unreachable_database_is_kept_and_answered_when_it_returns(make_app, database_url, tmp_path):
    spool_file = tmp_path / "spool.jsonl"
    unreachable = ("sqlite:///" + str(tmp_path / "no-such-dir" / "bot.sqlite")) if database_url.startswith("sqlite") \
        else database_url.rsplit("/", 1)[0].rsplit(":", 1)[0] + ":1/none"  # nothing listens on port 1
    down = make_app(DATABASE_URL=unreachable, SPOOL_FILE=str(spool_file))
    sim = WeChatSim(down.test_client(), down.config, openid="o_down")
    xml = sim.xml("text", {"Content": QUESTION}, msg_id=7_700_000_001)

    assert sim.reply_of(sim.post(xml)) == texts.RECEIVED_LATER  # told at once; nothing lost
    assert sim.reply_of(sim.post(xml)) == texts.RECEIVED_LATER  # WeChat's retry: kept again, counted once
    assert [r["key"] for r in kept(down)] == ["msg:7700000001"] * 2

    up = make_app(SPOOL_FILE=str(spool_file))  # the database is back (same spool)
    assert "handled 2" in drain(up)
    inbound = rows(up, Message, Message.dedupe_key == "msg:7700000001")
    assert len(inbound) == 1 and inbound[0].reply_xml == ""  # a retry now answers "success": no second answer
    late = rows(up, Outbox)
    assert [(o.purpose, o.dedupe_key) for o in late] == [("late_reply", "late_reply:msg:7700000001")]
    assert ANSWERED in late[0].payload["content"]
    assert not spool_file.exists() or spool_file.read_text() == ""
    assert sim.reply_of(WeChatSim(up.test_client(), up.config, openid="o_down").post(xml)) == ""


@sqlite_only
def test_the_database_file_gone_and_back(make_app, database_url, tmp_path):
    app = make_app()
    sim = WeChatSim(app.test_client(), app.config, openid="o_gone")
    sim.say("你好")
    path = Path(database_url.removeprefix("sqlite:///"))
    aside = tmp_path / "moved-away.sqlite"
    with app.app_context():
        db.engine.dispose()
    path.rename(aside)  # an operator moved it; SQLite would make an empty one in its place
    try:
        assert sim.say(QUESTION) == texts.RECEIVED_LATER
    finally:
        with app.app_context():
            db.engine.dispose()
        for leftover in path.parent.glob(path.name + "*"):
            if leftover.name.endswith(("-wal", "-shm")) or leftover == path:
                leftover.unlink()
        aside.rename(path)
    assert "handled 1" in drain(app)
    late = rows(app, Outbox)
    assert len(late) == 1 and ANSWERED in late[0].payload["content"]
    assert [m.content for m in rows(app, Message, Message.direction == "in")] == ["你好", QUESTION]


# -- the disk is full -----------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs, to be filled up; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the disk to the last byte; returns the filler (delete it to free the space)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while out.write(b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: full
            pass
    return filler


@sqlite_only
def test_a_full_disk_keeps_the_message_in_the_spool_beside_the_database(make_app, database_url, tiny_disk,
                                                                        monkeypatch):
    monkeypatch.delenv("SPOOL_FILE")  # the default place: beside the database file
    db_file = tiny_disk / "bot.sqlite"
    shutil.copy(database_url.removeprefix("sqlite:///"), db_file)
    app = make_app(DATABASE_URL=f"sqlite:///{db_file}")
    sim = WeChatSim(app.test_client(), app.config, openid="o_full")
    sim.say("你好")  # the spool's reserve is made while there is room
    filler = fill(tiny_disk)
    assert sim.say(QUESTION) == texts.RECEIVED_LATER  # the reserve made room for the spool
    assert [r["fields"]["Content"] for r in kept(app)] == [QUESTION]
    filler.unlink()  # space again
    assert "handled 1" in drain(app)
    late = rows(app, Outbox)
    assert len(late) == 1 and ANSWERED in late[0].payload["content"]


@sqlite_only
def test_when_nothing_can_be_written_wechat_is_made_to_retry(make_app, database_url, tiny_disk, tmp_path):
    """WeChat retries a delivery it got no response to within 5 s (three tries in all): with the
    database and the spool both refusing, the bot gives no response within that time."""
    db_file = tiny_disk / "bot.sqlite"
    shutil.copy(database_url.removeprefix("sqlite:///"), db_file)
    hold = 0.5  # WeChat's 5 s, shortened for the test
    app = make_app(DATABASE_URL=f"sqlite:///{db_file}", WECHAT_RETRY_HOLD_SECONDS=hold,
                   SPOOL_FILE=str(tmp_path / "a-file" / "spool.jsonl"))  # cannot be written: its folder is a file
    (tmp_path / "a-file").write_text("")
    with served(app) as url:
        WeChatSim(HttpClient(url, 30), app.config, openid="o_retry_me").say("你好")
        filler = fill(tiny_disk)
        wechat = WeChatSim(HttpClient(url, hold * 0.6), app.config, openid="o_retry_me")  # gives up first
        xml = wechat.xml("text", {"Content": QUESTION}, msg_id=7_700_000_002)
        with pytest.raises(requests.Timeout):
            wechat.post(xml)  # no answer within WeChat's wait: WeChat will try again
        filler.unlink()
        retry = WeChatSim(HttpClient(url, 30), app.config, openid="o_retry_me")
        assert ANSWERED in retry.reply_of(retry.post(xml))  # WeChat's retry finds storage back
    assert len(rows(app, Message, Message.dedupe_key == "msg:7700000002")) == 1


# -- the write lock held longer than WeChat waits -------------------------------------------------

@sqlite_only
def test_an_answer_ready_after_wechat_gave_up_goes_through_the_outbox(make_app, database_url):
    app = make_app(REPLY_DEADLINE_SECONDS=0.2)
    sim = WeChatSim(app.test_client(), app.config, openid="o_late")
    sim.say("你好")
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # e.g. a long job batch
    releaser = threading.Timer(1.0, lambda: other.execute("ROLLBACK"))
    releaser.start()
    try:
        xml = sim.xml("text", {"Content": QUESTION}, msg_id=7_700_000_003)
        assert sim.reply_of(sim.post(xml)) == ""  # "success": WeChat stopped waiting long ago
    finally:
        releaser.join(timeout=THREAD_TIMEOUT)
        other.close()
    late = rows(app, Outbox)
    assert [o.purpose for o in late] == ["late_reply"] and ANSWERED in late[0].payload["content"]
    assert sim.reply_of(sim.post(xml)) == ""  # WeChat's retry: no second answer
    assert len(rows(app, Message, Message.dedupe_key == "msg:7700000003")) == 1
    assert len(rows(app, Outbox)) == 1


@sqlite_only
def test_a_lock_held_past_the_busy_timeout_keeps_the_message_in_the_spool(make_app, database_url, monkeypatch):
    import bot.storage as storage

    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 300)  # SQLite's wait, shortened for the test
    app = make_app()
    sim = WeChatSim(app.test_client(), app.config, openid="o_locked")
    sim.say("你好")
    with app.app_context():
        db.engine.dispose()  # new connections take the shorter busy timeout
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert sim.say(QUESTION) == texts.RECEIVED_LATER
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [r["fields"]["Content"] for r in kept(app)] == [QUESTION]
    assert "handled 1" in drain(app)
    assert ANSWERED in rows(app, Outbox)[0].payload["content"]


def test_the_next_message_drains_the_spool_after_its_own_answer(make_app, tmp_path):
    spool_file = tmp_path / "spool.jsonl"
    down = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "missing" / "x.sqlite"), SPOOL_FILE=str(spool_file))
    WeChatSim(down.test_client(), down.config, openid="o_first").say(QUESTION)
    up = make_app(SPOOL_FILE=str(spool_file))
    with served(up) as url:
        second = WeChatSim(HttpClient(url, 30), up.config, openid="o_second")
        assert "职工之家" in second.say("菜单")
        deadline = time.monotonic() + THREAD_TIMEOUT
        while not rows(up, Outbox) and time.monotonic() < deadline:
            time.sleep(0.05)  # the drain runs once the response is sent
    late = rows(up, Outbox)
    assert len(late) == 1 and ANSWERED in late[0].payload["content"]
    first = rows(up, Worker, Worker.openid == "o_first")
    assert first and late[0].worker_id == first[0].id


def test_the_spool_is_drained_by_the_scheduler_tick(make_app, tmp_path):
    spool_file = tmp_path / "spool.jsonl"
    down = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "missing" / "x.sqlite"), SPOOL_FILE=str(spool_file))
    WeChatSim(down.test_client(), down.config, openid="o_tick").say(QUESTION)
    up = make_app(SPOOL_FILE=str(spool_file))
    result = up.test_cli_runner().invoke(args=["jobs", "tick"])
    assert "wechat_spool" in result.output, result.output
    assert len(rows(up, Outbox)) == 1


def test_spool_lines_cut_short_by_a_crash_are_skipped(make_app, tmp_path):
    spool_file = tmp_path / "spool.jsonl"
    down = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "missing" / "x.sqlite"), SPOOL_FILE=str(spool_file))
    WeChatSim(down.test_client(), down.config, openid="o_cut").say(QUESTION)
    with open(spool_file, "a") as out:
        out.write('{"key": "msg:1", "fields": {"MsgTy')  # the process died mid-line
    up = make_app(SPOOL_FILE=str(spool_file))
    output = drain(up)
    assert "handled 1" in output and "unreadable 1" in output
    assert len(rows(up, Outbox)) == 1


def test_two_processes_draining_at_once_answer_each_delivery_once(make_app, tmp_path):
    from tests.support import run_together

    spool_file = tmp_path / "spool.jsonl"
    down = make_app(DATABASE_URL="sqlite:///" + str(tmp_path / "missing" / "x.sqlite"), SPOOL_FILE=str(spool_file))
    for i in range(6):
        WeChatSim(down.test_client(), down.config, openid=f"o_many_{i}").say(QUESTION)
    apps = [make_app(SPOOL_FILE=str(spool_file)) for _ in range(2)]
    run_together(2, lambda i: drain(apps[i]))
    drain(apps[0])
    assert len(rows(apps[0], Outbox)) == 6
    assert len(rows(apps[0], Message, Message.direction == "in")) == 6
