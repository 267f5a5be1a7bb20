"""Fixtures: app, client, runner, db_session, chat, clock, wechat_api (helpers: tests/support.py)."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade

from app import create_app
from bot.extensions import db
from tests.support import APP_ID, Chat, Clock, Desk


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
    """A real HTTP server on loopback standing in for the WeChat API (token + message endpoints)."""
    httpserver.expect_request("/cgi-bin/token").respond_with_json({"access_token": "TOKEN-1", "expires_in": 7200})
    return httpserver


@pytest.fixture
def api_app(make_app, wechat_api):
    return make_app(WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret")


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
