"""create_app: zero-setup defaults, settings from the environment, test config applied last."""
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
