"""Storage and locking contracts that must hold on every supported database (aiogram-style).

Each test runs once per backend: "sqlite" in the SQLite pass of `make test`, "postgresql" whenever
TEST_POSTGRES_URL points at a server where the given user may CREATE DATABASE (the PostgreSQL pass
of `make test` sets it), e.g.

    TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5433/postgres \
        .venv/bin/python -m pytest -q tests/test_contract_storage.py

On PostgreSQL every test gets a database of its own, built by the real migrations and dropped
afterwards; on SQLite a copy of the session's migrated template (see conftest.template_db).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import create_app
from bot import outbox, sender
from bot.clock import now
from bot.extensions import db
from bot.models import Dialog, Message, Outbox, Worker
from bot.simulator import WeChatSim
from bot.wechat_api import client as api_client
from tests.support import APP_ID, NEVER_LATE, ON_POSTGRES, POSTGRES_URL, Chat, run_together

BACKENDS = [
    pytest.param("sqlite", id="sqlite", marks=pytest.mark.skipif(
        ON_POSTGRES, reason="the SQLite pass of the suite runs it")),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="PostgreSQL not configured: set TEST_POSTGRES_URL=postgresql+psycopg://user@host/db")),
]
INVALID_PHONE = "过几天吧"  # the legal-aid flow's phone step refuses it and counts a failure


class Backend:
    """One test's database on one backend: an empty or a migrated URL, and apps built on it."""

    def __init__(self, name: str, tmp_path, template_db):
        self.name, self.tmp_path, self.template_db, self.apps = name, tmp_path, template_db, []
        self.server = None
        if name == "postgresql":
            self.server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            self.db_name = f"union_contract_{uuid.uuid4().hex[:16]}"
            with self.server.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.db_name}"')
            self.url = make_url(POSTGRES_URL).set(database=self.db_name).render_as_string(hide_password=False)
        else:
            self.url = f"sqlite:///{tmp_path / 'contract.sqlite'}"

    def migrate(self) -> str:
        """Bring the database to the head revision with the real migrations."""
        if self.name == "sqlite":
            shutil.copy(self.template_db, self.tmp_path / "contract.sqlite")  # built by upgrade() once
        else:
            with self.app(TESTING=True).app_context():
                upgrade()
        return self.url

    def app(self, **config):
        app = create_app({"TESTING": True, "DATABASE_URL": self.url, "WECHAT_APP_ID": APP_ID,
                          "WECHAT_TOKEN": "test-token", "WECHAT_AES_KEY": "", **NEVER_LATE, **config})
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if self.server is not None:
            with self.server.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            self.server.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, template_db):
    b = Backend(request.param, tmp_path, template_db)
    yield b
    b.close()


@pytest.fixture
def contract_app(backend):
    backend.migrate()
    return backend.app()


@contextmanager
def slow_writes(app, table: str, seconds: float = 0.05):
    """Hold every INSERT and UPDATE of `table` for a moment inside its transaction.

    Through the test client and under the GIL, two deliveries released together often run one
    after the other; the pause makes the second one arrive while the first still holds its locks,
    so the race the contract is about really happens. The database is slowed, not our code replaced.
    """
    with app.app_context():
        engine = db.engine

    def pause(_conn, _cursor, statement, _params, _context, _executemany):
        if statement.startswith((f"INSERT INTO {table} ", f"UPDATE {table} ")):
            time.sleep(seconds)

    event.listen(engine, "before_cursor_execute", pause)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", pause)


def mid_flow(app, openid: str) -> int:
    """A worker at the legal-aid phone step; returns the dialog's version."""
    Chat(app, openid=openid).start("flow.legal_aid", state="phone", topic="欠薪", facts="三个月没发工资")
    with app.app_context():
        version = db.session.scalars(select(Dialog.version).join(Worker).where(Worker.openid == openid)).one()
        db.session.remove()
    return version


def dialog_and_inbound(app, openid: str):
    with app.app_context():
        worker = db.session.scalars(select(Worker).where(Worker.openid == openid)).one()
        dialog = db.session.scalars(select(Dialog).where(Dialog.worker_id == worker.id)).one()
        inbound = db.session.execute(select(Message.dedupe_key, func.count()).where(
            Message.worker_id == worker.id, Message.direction == "in").group_by(Message.dedupe_key)).all()
        result = (dialog.flow, dialog.state, dialog.failures, dialog.version), dict(inbound)
        db.session.remove()
    return result


# (a) ------------------------------------------------------------------------------------------
def test_a_message_delivered_three_times_is_handled_once(contract_app):
    version = mid_flow(contract_app, "o_retry")
    sim = WeChatSim(contract_app.test_client(), contract_app.config, openid="o_retry")
    xml = sim.xml("text", {"Content": INVALID_PHONE}, msg_id=7_000_000_001)
    replies = [sim.reply_of(sim.post(xml)) for _ in range(3)]  # WeChat retries after 5 s, twice
    assert replies[0] and replies == [replies[0]] * 3, replies
    (flow, state, failures, new_version), inbound = dialog_and_inbound(contract_app, "o_retry")
    assert (flow, state, failures, new_version) == ("legal_aid", "phone", 1, version + 1)
    assert inbound["msg:7000000001"] == 1


# (b) ------------------------------------------------------------------------------------------
def test_concurrent_messages_from_one_worker_lose_no_update(contract_app):
    version, n = mid_flow(contract_app, "o_busy"), 12

    def send(i):
        return WeChatSim(contract_app.test_client(), contract_app.config, openid="o_busy").say(f"{INVALID_PHONE}{i}")

    with slow_writes(contract_app, "dialog", seconds=0.02):
        replies = run_together(n, send)
    assert all(replies), replies
    (flow, state, failures, new_version), inbound = dialog_and_inbound(contract_app, "o_busy")
    # Every invalid answer counted once: no update was lost, and the step did not move.
    assert (flow, state) == ("legal_aid", "phone")
    assert failures == n
    assert new_version == version + n
    assert sum(inbound.values()) == n + 1 and set(inbound.values()) == {1}  # + the "你好" of mid_flow


# (c) ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("known_worker", [True, False], ids=["known-worker", "first-message"])
def test_one_msgid_delivered_twice_at_once_is_handled_once(contract_app, known_worker):
    openid, rounds = "o_twice", 3
    if known_worker:
        version = mid_flow(contract_app, openid)
    for r in range(rounds):
        sim = WeChatSim(contract_app.test_client(), contract_app.config, openid=openid)
        xml = sim.xml("text", {"Content": INVALID_PHONE if known_worker else "你好"}, msg_id=8_000_000_000 + r)

        def deliver(_i, xml=xml):
            s = WeChatSim(contract_app.test_client(), contract_app.config, openid=openid)
            return s.reply_of(s.post(xml))

        with slow_writes(contract_app, "message"):
            first, second = run_together(2, deliver)
        assert first and first == second, (first, second)
    (flow, state, failures, new_version), inbound = dialog_and_inbound(contract_app, openid)
    assert all(inbound[f"msg:{8_000_000_000 + r}"] == 1 for r in range(rounds)), inbound
    with contract_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Worker)) == 1
        db.session.remove()
    if known_worker:
        assert (flow, state, failures, new_version) == ("legal_aid", "phone", rounds, version + rounds)


# (d) ------------------------------------------------------------------------------------------
def test_concurrent_senders_never_send_an_outbox_row_twice(backend, fake_wechat):
    backend.migrate()
    app = backend.app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret")
    rows, senders = 24, 3
    with app.app_context():
        workers = [Worker(openid=f"o_notice_{i}", last_seen_at=now()) for i in range(8)]  # windows open
        db.session.add_all(workers)
        db.session.flush()
        for i in range(rows):
            outbox.queue(db.session, workers[i % 8].id, f"通知 {i}", dedupe_key=f"notice:{i}")
        db.session.commit()
        db.session.remove()

    def send(_i):
        counts = {"sent": 0}
        with app.app_context():
            while True:  # small batches, so the senders really interleave
                sent = sender.send_pending(api_client(), limit=3)["sent"]
                if not sent:
                    return counts
                counts["sent"] += sent

    results = run_together(senders, send)
    bodies = [m["content"] for m in fake_wechat.sent()]
    assert sorted(bodies) == sorted(f"通知 {i}" for i in range(rows)), "a row was sent twice or not at all"
    assert sum(r["sent"] for r in results) == rows
    assert fake_wechat.token_fetches == 1  # the three senders shared one token
    with app.app_context():
        assert db.session.scalars(select(Outbox.status).distinct()).all() == ["sent"]
        assert all(a == 1 for a in db.session.scalars(select(Outbox.attempts)))
        db.session.remove()


# (f) ------------------------------------------------------------------------------------------
def test_clients_refreshing_the_token_at_once_fetch_it_once(backend, fake_wechat):
    """The refresh lock: a file lock beside SQLite, a row lock on PostgreSQL."""
    backend.migrate()
    app = backend.app(WECHAT_API_BASE_URL=fake_wechat.url, WECHAT_APP_SECRET="secret")
    fake_wechat.fault(slow=0.3, path="stable_token")  # the first fetch is still under way when the others ask

    def send(i):
        with app.app_context():
            try:
                return api_client().message.send_text("o_1", f"消息{i}")["errcode"]
            finally:
                db.session.remove()

    assert run_together(4, send) == [0] * 4
    fake_wechat.fault(40001)  # and a refused token is refreshed once for everyone
    assert run_together(3, send) == [0] * 3
    assert [c["body"]["force_refresh"] for c in fake_wechat.calls("stable_token")] == [False, False, True]
    assert len(fake_wechat.sent()) == 7


# (e) ------------------------------------------------------------------------------------------
def test_migrations_build_the_schema_the_models_describe(backend):
    app = backend.app()
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree on {backend.name}: {diff}"
