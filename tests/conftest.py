"""Fixtures: app, client, runner, db_session, chat, clock, wechat_api (helpers: tests/support.py)."""
from __future__ import annotations

import shutil

import pytest
from flask_migrate import upgrade

from app import create_app
from bot.extensions import db
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
    """A real HTTP server on loopback standing in for the WeChat API (token + message endpoints)."""
    httpserver.expect_request("/cgi-bin/token").respond_with_json({"access_token": "TOKEN-1", "expires_in": 7200})
    return httpserver


@pytest.fixture
def api_app(make_app, wechat_api):
    return make_app(WECHAT_API_BASE_URL=wechat_api.url_for("/cgi-bin/"), WECHAT_APP_SECRET="secret")
