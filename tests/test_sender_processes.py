"""Real sender processes (`flask outbox send`) against the fake WeChat API: killed with SIGKILL at
each point of a send, and two of them sharing one access token. Outcomes are checked on the fake
server's records: what WeChat actually got."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import outbox, sender
from bot.clock import now
from bot.extensions import db
from bot.models import Outbox, Worker
from bot.wechat_api import client
from tests.support import APP_ID

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
DECISION_TPL = {"decision": {"template_id": "TPL_DECISION", "fields": {"thing1": "{content}"}}}


@pytest.fixture
def wx(make_app, fake_wechat, templates_file):
    config = dict(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret",
                  WECHAT_TEMPLATES_FILE=templates_file(DECISION_TPL))
    app = make_app(**config)
    # One call in flight per sender, so each test knows which row the kill catches in flight.
    app.process_env = {"FLASK_APP": "app", "DATABASE_URL": app.config["DATABASE_URL"], "WECHAT_APP_ID": APP_ID,
                       "WECHAT_TOKEN": "test-token", "OUTBOX_CONCURRENCY": "1",
                       **{k: str(v) for k, v in config.items()}}
    return app


def start_sender(app, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "outbox", "send", *args], cwd=ROOT,
                            env={**os.environ, **app.process_env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


def queue_for(app, *messages):
    """messages: (openid, purpose, text, window_open)."""
    with app.app_context():
        for openid, purpose, text, window_open in messages:
            w = Worker(openid=openid, last_seen_at=now() if window_open else None)
            db.session.add(w)
            db.session.flush()
            outbox.queue(db.session, w.id, text, f"{purpose}:{openid}", purpose=purpose)
        db.session.commit()
        db.session.remove()


def recover_and_send(app, make_app) -> None:
    """Another sender later, after the dead one's lease ran out (lease 0: at once)."""
    later = make_app(**{**{k: app.config[k] for k in ("WECHAT_API_BASE_URL", "WECHAT_APP_SECRET",
                                                      "WECHAT_TEMPLATES_FILE")}, "OUTBOX_LEASE_SECONDS": 0})
    with later.app_context():
        sender.Sender(client(), later.config).drain()
        db.session.remove()


def status_of(app, openid) -> str:
    with app.app_context():
        result = db.session.scalars(select(Outbox.status).join(Worker, Worker.id == Outbox.worker_id)
                                    .where(Worker.openid == openid)).one()
        db.session.remove()
        return result


CASES = [
    # purpose, window open, killed: before WeChat got the call / after WeChat accepted it
    pytest.param("reminder", True, "before", 0, "unknown", id="reminder-before-call: at most once, lost"),
    pytest.param("staff_reply", True, "before", 1, "sent", id="staff-reply-before-call: resent"),
    pytest.param("reminder", True, "after", 1, "unknown", id="reminder-after-accept: not resent"),
    pytest.param("staff_reply", True, "after", 2, "sent", id="staff-reply-after-accept: at least once, twice"),
    pytest.param("decision", False, "after", 1, "sent", id="template-after-accept: resent, WeChat dedupes"),
]


@pytest.mark.parametrize("purpose, window_open, killed, delivered, status", CASES)
def test_a_sender_killed_during_the_call(wx, make_app, fake_wechat, purpose, window_open, killed, delivered, status):
    queue_for(wx, ("o_victim", purpose, "这条消息正在发送", window_open),
              ("o_next1", "reminder", "打卡提醒", True), ("o_next2", "staff_reply", "工作人员回复", True))
    fake_wechat.fault(hold=killed, touser="o_victim")
    proc = start_sender(wx)
    assert fake_wechat.wait_held(timeout=60), proc.communicate(timeout=5)
    kill(proc)
    fake_wechat.release()
    assert status_of(wx, "o_victim") == "sending" and status_of(wx, "o_next1") == "claimed"
    recover_and_send(wx, make_app)
    assert len(fake_wechat.sent(touser="o_victim")) == delivered
    assert status_of(wx, "o_victim") == status
    # rows the dead sender had claimed but not tried are sent, once
    assert [len(fake_wechat.sent(touser=o)) for o in ("o_next1", "o_next2")] == [1, 1]


def test_a_sender_killed_after_the_commit_does_not_resend_what_it_sent(wx, make_app, fake_wechat):
    queue_for(wx, ("o_first", "reminder", "第一条", True), ("o_victim", "staff_reply", "第二条", True))
    fake_wechat.fault(hold="before", touser="o_victim")
    proc = start_sender(wx)
    assert fake_wechat.wait_held(timeout=60)
    kill(proc)  # the first row was marked sent in the same commit that put the second in flight
    fake_wechat.release()
    assert status_of(wx, "o_first") == "sent"
    recover_and_send(wx, make_app)
    assert [len(fake_wechat.sent(touser=o)) for o in ("o_first", "o_victim")] == [1, 1]


def test_two_sender_processes_share_one_token(wx, fake_wechat):
    queue_for(wx, *[(f"o_{i}", "notice", f"通知{i}", True) for i in range(6)])
    fake_wechat.fault(hold="after", path="stable_token")  # A fetches the token and waits for its answer
    a = start_sender(wx, "--batch", "2")
    assert fake_wechat.wait_held(timeout=60)
    b = start_sender(wx, "--batch", "2")
    deadline = time.monotonic() + 60
    while len(claimers(wx)) < 2:  # B has claimed rows too and now needs the token A is fetching
        assert time.monotonic() < deadline, b.communicate(timeout=5)
        time.sleep(0.05)
    fake_wechat.release()
    finish(a), finish(b)
    assert fake_wechat.token_fetches == 1
    assert sorted(m["touser"] for m in fake_wechat.sent()) == [f"o_{i}" for i in range(6)]
    assert len({c["token"] for c in fake_wechat.calls("message/")}) == 1
    assert len(claimers(wx)) == 2  # both processes sent some of them


def claimers(app) -> set[str]:
    with app.app_context():
        result = set(db.session.scalars(select(Outbox.claimed_by).where(Outbox.claimed_by.is_not(None))))
        db.session.remove()
        return result


def test_several_sender_processes_drain_the_outbox_once(wx, fake_wechat):
    queue_for(wx, *[(f"o_{i}", "reminder", f"提醒{i}", True) for i in range(20)])
    fake_wechat.fault(hold="after")  # the first process waits on its first call until the second has claimed
    proc = start_sender(wx, "--processes", "2", "--batch", "3")
    assert fake_wechat.wait_held(timeout=60)
    deadline = time.monotonic() + 60
    while len(claimers(wx)) < 2:
        assert time.monotonic() < deadline, proc.communicate(timeout=5)
        time.sleep(0.05)
    fake_wechat.release()
    assert "sent=" in finish(proc)
    assert sorted(m["touser"] for m in fake_wechat.sent()) == sorted(f"o_{i}" for i in range(20))
