"""`flask serve` (make run): the web app, the scheduler and the outbox sender in one process, stopped by Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import local_now, now
from bot.extensions import db
from bot.models import KeyValue
from tests.seed import registration, worker

ROOT = Path(__file__).resolve().parent.parent


def wait_for(what, check, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"server exited while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


@pytest.mark.slow
def test_serve_runs_the_scheduler_and_the_sender_and_stops_them_on_ctrl_c(app, wechat_api):
    wechat_api.expect_request("/cgi-bin/message/custom/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    today = local_now().date()
    with app.app_context():
        newcomer = worker("o_newcomer", last_seen_at=now())  # wrote today: the reminder is a customer-service message
        registration(newcomer, today.isoformat(), (today + timedelta(days=3)).isoformat())
        db.session.commit()
        db.session.remove()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "CHECKIN_REMINDER_TIME": "00:00",
           "QUIET_HOURS": "off", "WECHAT_API_BASE_URL": wechat_api.url_for("/cgi-bin/"), "WECHAT_APP_SECRET": "secret"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "serve", "--port", str(port),
                             "--jobs-interval", "0.3", "--send-interval", "0.3"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def page_served():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/dev/chat", timeout=5).status == 200
            except OSError:
                return False

        def reminder_arrived():
            return any(r.path.endswith("/message/custom/send") for r, _ in wechat_api.log)

        wait_for("the simulator page", page_served, proc)
        wait_for("the reminder at the WeChat API", reminder_arrived, proc)
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, output
    assert "stopped: scheduler, outbox" in output, output
    [body] = [json.loads(r.get_data()) for r, _ in wechat_api.log if r.path.endswith("/message/custom/send")]
    assert body["touser"] == "o_newcomer" and "健康打卡" in body["text"]["content"]
    with app.app_context():
        assert db.session.get(KeyValue, "jobs:scheduler-lease") is None  # given up on the way out
        db.session.remove()


def test_without_an_app_secret_the_dev_server_sends_to_a_fake_wechat_api(make_app):
    """`make run` on a machine without a WeChat account: the sender delivers to bot/fake_wechat, and
    /dev/chat shows what it got."""
    import requests

    from bot import outbox
    from bot.devserver import start_fake_wechat_api
    from bot.sender import send_pending
    from bot.wechat_api import client

    app = make_app(WECHAT_APP_SECRET="")
    stop_fake = start_fake_wechat_api(app)
    try:
        assert app.config["WECHAT_API_BASE_URL"].startswith("http://127.0.0.1:")
        with app.app_context():
            w = worker("o_dev", last_seen_at=now())
            outbox.queue(db.session, w.id, "工作人员：已转给区工会。", "dev:1", purpose="staff_reply")
            db.session.commit()
            assert send_pending(client())["sent"] == 1
            db.session.remove()
        pushed = app.test_client().get("/dev/chat/pushed", query_string={"openid": "o_dev"}).get_json()
        assert pushed["messages"] == ["工作人员：已转给区工会。"]
    finally:
        stop_fake()
    with pytest.raises(requests.ConnectionError):
        requests.get(app.config["WECHAT_API_BASE_URL"] + "token", timeout=2)
    assert start_fake_wechat_api(make_app(WECHAT_APP_SECRET="real-secret")) is None
