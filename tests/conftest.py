"""Fixtures: app, client, runner, db_session, chat, clock, fake_wechat (flaskr's conftest plus transcripts)."""
from __future__ import annotations

import shutil
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from bot.extensions import db
from bot.fake_wechat import FakeWeChat
from bot.models import Dialog, Worker
from bot.simulator import WeChatSim

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APP_ID = "wx_test_app_id"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A database built once by the real migrations; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def make_app(tmp_path, template_db):
    """Build an app on this test's database (call twice for a 'restart': same DB, new app)."""
    path = tmp_path / "bot.sqlite"
    shutil.copy(template_db, path)

    def make(**config):
        return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "WECHAT_APP_ID": APP_ID,
                           "WECHAT_TOKEN": "test-token", "WECHAT_AES_KEY": "", **config})

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    with app.app_context():
        yield db.session
        db.session.remove()


class Chat:
    """A worker talking to /wechat: signed XML in, the bot's reply text out, with a transcript."""

    def __init__(self, app, openid="o_worker_1", encrypt=False):
        self.app = app
        self.sim = WeChatSim(app.test_client(), app.config, openid=openid, encrypt=encrypt)
        self.transcript: list[tuple[str, str]] = []

    def say(self, text: str) -> str:
        reply = self.sim.say(text)
        self.transcript += [("worker", text), ("bot", reply)]
        return reply

    def send(self, msg_type, fields=None, **kw) -> str:
        reply = self.sim.send(msg_type, fields, **kw)
        self.transcript += [("worker", f"[{msg_type}] {fields}"), ("bot", reply)]
        return reply

    def event(self, event, key=None) -> str:
        reply = self.sim.event(event, key)
        self.transcript += [("worker", f"[event {event} {key or ''}]"), ("bot", reply)]
        return reply

    def expect(self, *turns):
        for said, fragment in turns:
            reply = self.say(said)
            assert fragment in reply, f"expected {fragment!r} in the reply\n{self.format_transcript()}"

    def format_transcript(self) -> str:
        return "\n".join(f"{who:>6}: {line}" for who, line in self.transcript)

    def _dialog(self):
        with self.app.app_context():
            worker = db.session.scalars(select(Worker).where(Worker.openid == self.sim.openid)).first()
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

    def start(self, target: str, state: str | None = None, **slots):
        """Seed a dialog mid-flow, as if the worker had answered the earlier steps."""
        self.say("你好")  # creates the worker row through the webhook
        with self.app.app_context():
            worker = db.session.scalars(select(Worker).where(Worker.openid == self.sim.openid)).one()
            row = db.session.scalars(select(Dialog).where(Dialog.worker_id == worker.id)).one()
            from bot.flows import FLOWS

            flow = FLOWS[target.removeprefix("flow.")]
            row.flow, row.slots, row.context = flow.NAME, slots, {}
            row.state = state or next(s["name"] for s in flow.STATES if s.get("slot") not in slots)
            db.session.commit()
            db.session.remove()


@pytest.fixture
def chat(app):
    return Chat(app)


@pytest.fixture
def make_chat(app):
    return lambda openid="o_worker_1", **kw: Chat(app, openid=openid, **kw)


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
        from datetime import timedelta

        assert self.traveller is not None, "call clock.set() first"
        self.coordinates.shift(timedelta(**delta))

    def stop(self):
        if self.traveller is not None:
            self.traveller.stop()
            self.traveller = None


@pytest.fixture
def clock():
    c = Clock()
    yield c
    c.stop()


@pytest.fixture
def wechat_api(httpserver):
    """pytest-httpserver answering the token endpoints; a test adds the responses it needs."""
    token = {"access_token": "TOKEN-1", "expires_in": 7200}
    httpserver.expect_request("/cgi-bin/token").respond_with_json(token)
    httpserver.expect_request("/cgi-bin/stable_token", method="POST").respond_with_json(token)
    return httpserver


@pytest.fixture
def fake_wechat():
    """bot.fake_wechat: a real HTTP server on 127.0.0.1 playing the WeChat API, with its records
    (fake_wechat.sent(), .calls(), .token_fetches) and faults (fake_wechat.fault(45015, count=1))."""
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
def templates_file(tmp_path):
    """Write a config/wechat_templates.yaml of the test's own; returns its path."""

    def write(purposes: dict | None = None, notice: str | None = None):
        data = {"purposes": purposes or {}}
        if notice is not None:
            data["notice"] = {"template_id": notice, "fields": {"thing1": "您有一条新回复，发送任意消息即可查看"}}
        path = tmp_path / "wechat_templates.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def api_app(make_app, fake_wechat, templates_file):
    """The app talking to the fake WeChat API; no templates configured (so closed windows park)."""
    return make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret",
                    WECHAT_TEMPLATES_FILE=templates_file(), OUTBOX_BACKOFF_SECONDS=60)


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
    [t.join(timeout=60) for t in threads]
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results
