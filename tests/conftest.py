"""Fixtures: app, client, runner, db_session, chat, clock, wechat_api, fake_wechat (helpers: tests/support.py)."""
from __future__ import annotations

import shutil

import pytest
import yaml
from flask_migrate import upgrade

from app import create_app
from bot.extensions import db
from bot.fake_wechat import FakeWeChat
from tests.support import APP_ID, Chat, Clock


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

