"""Production safety: unsafe settings refuse to start, the simulator stays on this machine in development,
and an export with full ID numbers is confirmed, private to its owner and audited."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from bot.models import AuditLog, MembershipApplication, Message, Worker
from bot.services import crypto
from bot.settings import UnsafeSettings
from tests.support import PRODUCTION

ROOT = Path(__file__).resolve().parent.parent
ID_NUMBER = "11010519491231002X"


# -- unsafe settings --------------------------------------------------------------------------------
NEW_SECRET, NEW_KEY = "secrets.token_urlsafe(48)", "Fernet.generate_key()"


@pytest.mark.parametrize(("setting", "value", "told", "remedy"), [
    ("SECRET_KEY", "dev-secret-change-me", "SECRET_KEY is the development default", NEW_SECRET),
    ("SECRET_KEY", "short-but-not-default", "SECRET_KEY has 21 characters; use at least 32", NEW_SECRET),
    ("DATA_KEY", "", "DATA_KEY is not set", NEW_KEY),
    ("DATA_KEY", "not-a-fernet-key-but-long-enough-to-look-like-one", "DATA_KEY is not a Fernet key", NEW_KEY),
    ("WECHAT_TOKEN", "dev-token", "WECHAT_TOKEN is the development default", "服务器配置 → 令牌"),
    ("UNION_ADDRESS", "", "UNION_ADDRESS is not set", "for this deployment"),  # sample service data
], ids=["dev-secret", "short-secret", "no-data-key", "bad-data-key", "dev-token", "no-address"])
def test_production_refuses_each_unsafe_setting_and_says_what_to_set(database_url, setting, value, told, remedy):
    with pytest.raises(UnsafeSettings) as refused:
        create_app({"DATABASE_URL": database_url, **PRODUCTION, setting: value})
    message = str(refused.value)
    assert told in message and remedy in message
    assert message.count("\n  - ") == 1, message  # this one problem only


def test_production_with_safe_settings_starts(database_url):
    app = create_app({"DATABASE_URL": database_url, **PRODUCTION})
    assert app.config["ENV"] == "production"


def test_every_problem_is_named_at_once_from_the_environment(monkeypatch, database_url):
    for name in ("SECRET_KEY", "DATA_KEY", "WECHAT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(UnsafeSettings) as refused:
        create_app({"DATABASE_URL": database_url})
    assert all(f"  - {name} " in str(refused.value) for name in ("SECRET_KEY", "DATA_KEY", "WECHAT_TOKEN"))


def test_outside_production_the_defaults_still_run(database_url):
    app = create_app({"DATABASE_URL": database_url, "ENV": "development"})
    assert app.config["SECRET_KEY"] == "dev-secret-change-me"  # zero-setup, as before


@pytest.mark.slow
def test_gunicorn_refuses_to_boot_a_production_instance_with_unsafe_settings(tmp_path):
    """As production runs it: the worker fails to boot, gunicorn exits, and its log says what to set."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATA_KEY", "WECHAT_TOKEN")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite'}", ENV="production")
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                             "app:create_app()"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert all(f"  - {name} " in result.stderr for name in ("SECRET_KEY", "DATA_KEY", "WECHAT_TOKEN")), result.stderr


# -- the simulator ----------------------------------------------------------------------------------
def test_the_simulator_is_served_to_loopback_clients_in_development(make_app):
    client = make_app(ENV="development").test_client()
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert client.get("/dev/chat", environ_base={"REMOTE_ADDR": address}).status_code == 200, address
    sent = client.post("/dev/chat/send", json={"openid": "o_local", "text": "菜单"})
    assert sent.status_code == 200 and sent.get_json()["reply"]


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "203.0.113.7", "2001:db8::1", "::ffff:10.0.0.5"])
def test_the_simulator_refuses_other_clients_even_in_development(make_app, db_session, address):
    client = make_app(ENV="development").test_client()
    assert client.get("/dev/chat", environ_base={"REMOTE_ADDR": address}).status_code == 403
    sent = client.post("/dev/chat/send", json={"openid": "o_remote", "text": "菜单"},
                       environ_base={"REMOTE_ADDR": address})
    assert sent.status_code == 403
    assert db_session.scalars(select(Worker)).all() == [] and db_session.scalars(select(Message)).all() == []


def test_a_request_relayed_by_a_proxy_on_this_machine_is_not_local(make_app):
    client = make_app(ENV="development").test_client()
    for header in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}):
        assert client.get("/dev/chat", headers=header).status_code == 403


@pytest.mark.parametrize("env", ["production", "staging", "test"])
def test_the_simulator_exists_only_in_development(make_app, env):
    settings = PRODUCTION if env == "production" else {"ENV": env}
    client = make_app(**settings).test_client()
    assert client.get("/dev/chat").status_code == 404
    assert client.post("/dev/chat/send", json={"text": "菜单"}).status_code == 404


# -- flask export --unmasked -----------------------------------------------------------------------
@pytest.fixture
def applicant(db_session):
    worker = Worker(openid="o_export")
    db_session.add(worker)
    db_session.flush()
    db_session.add(MembershipApplication(
        worker_id=worker.id, name="张三", phone="13812345678", id_number_encrypted=crypto.encrypt(ID_NUMBER),
        id_number_hash=crypto.keyed_hash(ID_NUMBER), id_number_masked=crypto.mask_id_number(ID_NUMBER),
        employer="某某科技", employer_has_union="no", district="朝阳区", industry="制造业"))
    db_session.commit()


def audit_rows(db_session) -> list[AuditLog]:
    db_session.expire_all()
    return db_session.scalars(select(AuditLog)).all()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_unmasked_export_is_private_to_its_owner_and_audited(applicant, runner, db_session, tmp_path, fmt):
    out = tmp_path / f"入会申请.{fmt}"
    out.write_text("an older, world-readable report")
    out.chmod(0o644)
    result = runner.invoke(args=["export", "membership", "--out", str(out), "--unmasked", "--yes"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    (row,) = audit_rows(db_session)
    assert (row.actor, row.action, row.target_type, row.target_id) == ("cli", "export.unmasked", "report", "membership")
    assert row.detail == {"report": "membership", "rows": 1, "file": f"入会申请.{fmt}", "format": fmt}
    assert ID_NUMBER not in str(row.detail) and "张三" not in str(row.detail)  # never the contents


def test_an_unmasked_export_asks_first(applicant, runner, db_session, tmp_path):
    out = tmp_path / "full.csv"
    declined = runner.invoke(args=["export", "membership", "--out", str(out), "--unmasked"], input="n\n")
    assert declined.exit_code != 0 and "完整身份证号" in declined.output
    assert not out.exists() and audit_rows(db_session) == []
    unanswered = runner.invoke(args=["export", "membership", "--out", str(out), "--unmasked"])  # no terminal
    assert unanswered.exit_code != 0 and not out.exists() and audit_rows(db_session) == []
    agreed = runner.invoke(args=["export", "membership", "--out", str(out), "--unmasked"], input="y\n")
    assert agreed.exit_code == 0, agreed.output
    assert ID_NUMBER in out.read_text(encoding="utf-8-sig") and len(audit_rows(db_session)) == 1


def test_a_masked_export_asks_nothing_and_is_not_audited(applicant, runner, db_session, tmp_path):
    out = tmp_path / "masked.csv"
    result = runner.invoke(args=["export", "membership", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ID_NUMBER not in out.read_text(encoding="utf-8-sig") and audit_rows(db_session) == []
