"""Fixtures: app, client, runner, db_session, chat, clock (flaskr's conftest plus transcripts).

Every test gets a database of its own, built by the real migrations, on the backend TEST_DATABASE
names: "sqlite" (the default: a copy of a file migrated once per process) or "postgresql" (CREATE
DATABASE … TEMPLATE a database migrated once per process, on the server TEST_POSTGRES_URL names,
dropped after the test). `make test` runs the suite once on each; scripts/with-postgres.sh starts
a throw-away server when no TEST_POSTGRES_URL is given.
"""
from __future__ import annotations

import itertools
import os
import secrets
import shutil
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask_migrate import upgrade
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import create_app
from bot.extensions import db
from bot.models import Dialog, Worker
from bot.simulator import WeChatSim

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APP_ID = "wx_test_app_id"
# Settings ENV=production accepts (bot/settings.py); fixed, so a test run is repeatable.
PRODUCTION = {"ENV": "production", "SECRET_KEY": "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
              "DATA_KEY": "P9YVqTZ4u3sRuu6o2JQ1yq7b5Yp3hE3JtKxgm0QbW0k=", "WECHAT_TOKEN": "test-production-token"}
TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
ON_POSTGRES = TEST_DATABASE in ("postgresql", "postgres")
# For tests about SQLite itself (the writer queue, WAL, the database file): PostgreSQL has none of it.
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about SQLite only (writer queue, WAL, database file)")


def pytest_configure(config):
    if TEST_DATABASE not in ("sqlite", "postgresql", "postgres"):
        raise pytest.UsageError(f"TEST_DATABASE={TEST_DATABASE!r}: use sqlite or postgresql")
    if ON_POSTGRES and not POSTGRES_URL:
        raise pytest.UsageError("TEST_DATABASE=postgresql needs TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db "
                                "(or run the tests through scripts/with-postgres.sh, which starts a server)")


def migrate(url: str) -> None:
    """Bring the database at `url` to the head revision with the real migrations."""
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A SQLite database built once by the real migrations; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    migrate(f"sqlite:///{path}")
    return path


class SqliteDatabases:
    """Each test's database is a copy of the migrated template file, in the test's tmp_path."""

    name = "sqlite"

    def __init__(self, template):
        self.template = template

    def create(self, tmp_path, migrated: bool = True) -> str:
        path = tmp_path / ("bot.sqlite" if migrated else "empty.sqlite")
        if migrated:
            shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        pass  # tmp_path goes with pytest's own clean-up

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Each test's database is CREATE DATABASE … TEMPLATE a database migrated once per process."""

    name = "postgresql"

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.server = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.prefix = f"t_{worker}_{secrets.token_hex(3)}"  # unique per run: a shared server stays usable
        self.numbers = itertools.count(1)
        self.template = f"{self.prefix}_template"
        with self.server.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version_num").scalar()
        # PostgreSQL 15+ copies a small template faster file by file than through the WAL.
        self.strategy = " STRATEGY = FILE_COPY" if int(version) >= 150000 else ""
        self._sql(f'CREATE DATABASE "{self.template}"')
        migrate(self.url(self.template))  # disposes its engine: a template must have no connections

    def url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def _sql(self, statement: str) -> None:
        with self.server.connect() as conn:
            conn.exec_driver_sql(statement)

    def create(self, tmp_path=None, migrated: bool = True) -> str:
        name = f"{self.prefix}_{next(self.numbers)}"
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template if migrated else "template0"}"{self.strategy}')
        return self.url(name)

    def drop(self, url: str) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.server.dispose()


@pytest.fixture(scope="session")
def databases(request):
    """Where this process makes its tests' databases (TEST_DATABASE)."""
    if not ON_POSTGRES:
        yield SqliteDatabases(request.getfixturevalue("template_db"))
        return
    factory = PostgresDatabases(POSTGRES_URL)
    yield factory
    factory.close()


@pytest.fixture
def database_url(databases, tmp_path):
    """This test's own migrated database (dropped after the test)."""
    url = databases.create(tmp_path)
    yield url
    databases.drop(url)


@pytest.fixture
def empty_database_url(databases, tmp_path):
    """A database with no tables at all (for the migrations themselves)."""
    url = databases.create(tmp_path, migrated=False)
    yield url
    databases.drop(url)


def dispose(apps) -> None:
    """Close every connection the apps' engines hold (PostgreSQL cannot drop a database in use)."""
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database (call twice for a 'restart': same DB, new app)."""
    apps = []

    def make(**config):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WECHAT_APP_ID": APP_ID,
                          "WECHAT_TOKEN": "test-token", "WECHAT_AES_KEY": "", **config})
        apps.append(app)
        return app

    yield make
    dispose(apps)


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
