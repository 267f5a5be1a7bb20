"""create_app: zero-setup defaults, settings from the environment, test config applied last."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import create_app


def test_defaults_run_without_a_wechat_account(tmp_path, monkeypatch):
    for name in ("WECHAT_TOKEN", "WECHAT_AES_KEY", "DATABASE_URL", "ENV"):
        monkeypatch.delenv(name, raising=False)
    app = create_app()
    assert app.config["WECHAT_TOKEN"] == "dev-token"
    assert app.config["WECHAT_AES_KEY"] == ""
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/bot.sqlite")


def test_environment_settings_are_read_and_config_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("WECHAT_TOKEN", "from-env")
    monkeypatch.setenv("TIMESTAMP_WINDOW", "42")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite")
    app = create_app({"WECHAT_TOKEN": "from-test"})
    assert app.config["WECHAT_TOKEN"] == "from-test"
    assert app.config["TIMESTAMP_WINDOW"] == 42
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.sqlite"


def test_simulator_is_off_in_production(make_app):
    assert make_app(ENV="production").test_client().get("/dev/chat").status_code == 404
    assert make_app().test_client().get("/dev/chat").status_code == 200


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    from bot.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


@pytest.mark.slow
def test_gunicorn_workers_build_the_router_before_the_first_message(tmp_path):
    """gunicorn.conf.py: each worker loads the router at start-up, so no worker's first message waits
    for it (WeChat retries after 5 s). A real gunicorn, started in the project directory as in the
    README; the worker's log says the router is ready before any request was sent."""
    root = Path(__file__).resolve().parent.parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite'}", "ENV": "production",
           "SECRET_KEY": "test-secret"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                                 "--log-level", "info", "app:create_app()"], cwd=root, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "router ready" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.2)
            assert re.search(r"router ready: \d+ FAQ entries", log.read_text(errors="replace"))
            # and then it serves (a forged URL verification is refused: no database needed)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/wechat?signature=x&timestamp=1&nonce=1&echostr=e",
                                       timeout=10)
            assert refused.value.code == 403
            refused.value.close()  # the error holds the response's socket
        finally:
            proc.terminate()
            proc.wait(timeout=30)
