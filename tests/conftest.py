"""Fixtures: app, client, runner, db_session, chat, clock, wechat_api, fake_wechat, the workbench's desk and browser
(helpers and constants: tests/support.py).

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
from pathlib import Path

import pytest
import yaml
from flask_migrate import upgrade
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import create_app
from bot.extensions import db
from bot.fake_wechat import FakeWeChat
from bot.faq import overlay
from bot.nlu import store as nlu_store
from tests.support import APP_ID, NEVER_LATE, ON_POSTGRES, POSTGRES_URL, TEST_DATABASE, Chat, Clock, Desk

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
            # a router rebuild or an overlay version check still running would take a connection back
            # after the dispose, and leave it open when the engine is collected (psycopg warns then)
            nlu_store.wait_for_builds(db.engine)
            overlay.wait_for_checks(db.engine)
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(autouse=True)
def own_spool(tmp_path, monkeypatch):
    """Every test (and the servers it starts) keeps spooled deliveries in a file of its own: the
    default on PostgreSQL is the project's instance/ folder, which tests must never share."""
    monkeypatch.setenv("SPOOL_FILE", str(tmp_path / "wechat-spool.jsonl"))


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database (call twice for a 'restart': same DB, new app)."""
    apps = []

    def make(**config):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "WECHAT_APP_ID": APP_ID,
                          "WECHAT_TOKEN": "test-token", "WECHAT_AES_KEY": "", **NEVER_LATE, **config})
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


@pytest.fixture
def chat(app):
    return Chat(app)


@pytest.fixture
def make_chat(app):
    return lambda openid="o_worker_1", **kw: Chat(app, openid=openid, **kw)


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
def api_app(make_app, wechat_api):
    return make_app(WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret")


@pytest.fixture
def fake_app(make_app, fake_wechat, templates_file):
    """The app talking to the fake WeChat API; no templates configured (so closed windows park)."""
    return make_app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret",
                    WECHAT_TEMPLATES_FILE=templates_file(), OUTBOX_BACKOFF_SECONDS=60)


# --- issue 11: the staff workbench ---------------------------------------------------------------
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
