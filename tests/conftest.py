"""Fixtures: app, client, runner, db_session, chat, clock (flaskr's conftest plus transcripts)."""
from __future__ import annotations

import shutil
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from bot.extensions import db
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
    """A real HTTP server on loopback standing in for the WeChat API (token + message endpoints)."""
    httpserver.expect_request("/cgi-bin/token").respond_with_json({"access_token": "TOKEN-1", "expires_in": 7200})
    return httpserver


@pytest.fixture
def api_app(make_app, wechat_api):
    return make_app(WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret")


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


# --- issue 11: the staff workbench ---------------------------------------------------------------
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


@pytest.fixture
def desk(app):
    """desk("wang", role="admin") → a logged-in staff member (the account is created first)."""
    return lambda login="wang", role="staff", name=None, ip="127.0.0.1": Desk(app, login, role, name, ip)


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download does not work here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process (pages and contexts per test)."""
    import os

    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests skipped: {CHROMIUM} is missing and `make test` could not install it "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(make_app, wechat_api):
    """The app served over real HTTP on 127.0.0.1 (a thread), its WeChat API pointed at `wechat_api`."""
    from werkzeug.serving import make_server

    from bot.nlu import get_index

    app = make_app(WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret",
                   STAFF_POLL_SECONDS=1)
    with app.app_context():
        get_index()  # built before serving, as gunicorn.conf.py does, so a page never waits on it
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    server.app, server.url = app, f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the live server did not stop"


@pytest.fixture
def screenshot():
    """screenshot(page, "inbox") → build/screenshots/inbox.png (the folder is not committed). A page with
    its own scrolling box (the conversation) is taken as the window shows it: a full-page shot re-lays
    the page out and scrolls that box back to the top."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take
