"""Helpers the tests share (imported as `tests.support`; fixtures stay in conftest.py).

Chat is a worker talking to /wechat the way WeChat does, with a transcript printed on failure;
Clock moves "now"; run_together runs bodies in threads released at once, joined with a timeout.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bot.extensions import db
from bot.models import Dialog, Worker
from bot.simulator import WeChatSim

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APP_ID = "wx_test_app_id"
# Settings ENV=production accepts (bot/settings.py); fixed, so a test run is repeatable.
PRODUCTION = {"ENV": "production", "SECRET_KEY": "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
              "DATA_KEY": "P9YVqTZ4u3sRuu6o2JQ1yq7b5Yp3hE3JtKxgm0QbW0k=", "WECHAT_TOKEN": "test-production-token",
              "UNION_ADDRESS": "北京市某区工人路1号 职工服务中心"}
TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
ON_POSTGRES = TEST_DATABASE in ("postgresql", "postgres")
# For tests about SQLite itself (the writer queue, WAL, the database file): PostgreSQL has none of it.
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about SQLite only (writer queue, WAL, database file)")
THREAD_TIMEOUT = 60  # seconds a test thread may run before the test fails as hung
# An answer is never "late" (sent through the outbox because WeChat stopped waiting) in a test that
# does not say so: how fast this machine is must not decide what a reply looks like.
NEVER_LATE = {"REPLY_DEADLINE_SECONDS": 3600}
# Events are deduplicated by sender + CreateTime: each simulated event gets a time of its own.
_event_times = itertools.count(int(time.time()) - 10_000_000)


class Chat:
    """A worker talking to /wechat: signed XML in, the bot's reply text out, with a transcript."""

    def __init__(self, app, openid="o_worker_1", encrypt=False):
        self.app = app
        self.sim = WeChatSim(app.test_client(), app.config, openid=openid, encrypt=encrypt)
        self.transcript: list[tuple[str, str]] = []

    @property
    def openid(self) -> str:
        return self.sim.openid

    def _log(self, said: str, reply: str) -> str:
        self.transcript += [("worker", said), ("bot", reply)]
        return reply

    def say(self, text: str) -> str:
        return self._log(text, self.sim.say(text))

    def voice(self, recognition: str) -> str:
        return self._log(f"[语音] {recognition}", self.sim.voice(recognition))

    def location(self, label: str, lat: str = "39.9", lng: str = "116.4") -> str:
        return self._log(f"[位置] {label}", self.sim.location(label, lat, lng))

    def send(self, msg_type, fields=None, **kw) -> str:
        return self._log(f"[{msg_type}] {fields}", self.sim.send(msg_type, fields, **kw))

    def event(self, event, key=None) -> str:
        fields = {"Event": event, **({"EventKey": key} if key is not None else {})}
        return self._log(f"[event {event} {key or ''}]",
                         self.sim.send("event", fields, create_time=next(_event_times)))

    def click(self, key: str) -> str:
        """A custom-menu click."""
        return self.event("CLICK", key)

    def expect(self, *turns):
        """Each (said, fragment): the worker says it and the reply contains the fragment."""
        for said, fragment in turns:
            reply = self.say(said)
            assert fragment in reply, f"expected {fragment!r} in the reply\n{self.format_transcript()}"
        return self.transcript[-1][1] if self.transcript else ""

    def format_transcript(self) -> str:
        return "\n".join(f"{who:>6}: {line}" for who, line in self.transcript)

    def _dialog(self):
        with self.app.app_context():
            worker = db.session.scalars(select(Worker).where(Worker.openid == self.openid)).first()
            row = worker and db.session.scalars(select(Dialog).where(Dialog.worker_id == worker.id)).first()
            result = (row.flow, row.state, dict(row.slots)) if row and row.flow else None
            db.session.remove()
            return result

    @property
    def state(self):
        dialog = self._dialog()
        return dialog[:2] if dialog else None

    @property
    def slots(self):
        dialog = self._dialog()
        return dialog[2] if dialog else {}

    def start(self, flow_name: str, state: str | None = None, **slots):
        """Seed a dialog mid-flow, as if the worker had answered the earlier steps."""
        from bot.flows import FLOWS

        self.say("你好")  # creates the worker row through the webhook
        flow = FLOWS[flow_name.removeprefix("flow.")]
        with self.app.app_context():
            worker = db.session.scalars(select(Worker).where(Worker.openid == self.openid)).one()
            row = db.session.scalars(select(Dialog).where(Dialog.worker_id == worker.id)).one()
            row.flow, row.slots, row.context = flow.name, slots, {}
            row.state = state or next(s["name"] for s in flow.states if s.get("slot") not in slots)
            db.session.commit()
            db.session.remove()


class Clock:
    """Controls 'now' for expiry, check-ins and reminders. Times are Beijing local time."""

    def __init__(self):
        self.traveller = None

    def set(self, when: str):
        moment = datetime.fromisoformat(when).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        self.stop()
        self.traveller = time_machine.travel(moment, tick=False)
        self.coordinates = self.traveller.start()

    def advance(self, **delta):
        assert self.traveller is not None, "call clock.set() first"
        self.coordinates.shift(timedelta(**delta))

    def stop(self):
        if self.traveller is not None:
            self.traveller.stop()
            self.traveller = None


@contextmanager
def database(app):
    """The app's session for a few reads or writes in a test, removed afterwards."""
    with app.app_context():
        yield db.session
        db.session.remove()


def run_together(n: int, body) -> list:
    """body(i) in n threads released at once by a barrier; results in order, first failure re-raised."""
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = body(i)
        except BaseException as exc:  # noqa: BLE001 – re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join(timeout=THREAD_TIMEOUT) for t in threads]
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


class Desk:
    """A staff member at the workbench: a logged-in test client that sends the CSRF token itself."""

    def __init__(self, app, login: str, role: str = "staff", name: str | None = None, ip: str = "127.0.0.1"):
        from bot.services import staff
        from bot.storage import write_transaction

        self.app, self.login = app, login
        with app.app_context():
            write_transaction(db.session)
            user, self.password = staff.create(db.session, login, name or login.title(), role)
            self.id = user.id
            db.session.commit()
            db.session.remove()
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = ip
        response = self.post("/staff/login", {"login": login, "password": self.password})
        assert response.status_code == 302, response.get_data(as_text=True)

    def token(self) -> str:
        import re

        page = self.client.get("/staff/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):
        return self.client.post(url, data={"csrf_token": self.token(), **(data or {})}, **kw)

    def page(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)
