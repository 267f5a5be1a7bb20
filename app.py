"""Application factory: settings, extensions, blueprints and CLI commands (flaskr style)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from bot.texts import OFFICE_HOURS_DEFAULT

# Every setting the bot reads from the environment, with its zero-setup default.
# (name, default, converter); documented in README.md.
SETTINGS = [
    ("WECHAT_TOKEN", "dev-token", str),
    ("WECHAT_APP_ID", "wx0000000000000000", str),
    ("WECHAT_APP_SECRET", "", str),
    ("WECHAT_AES_KEY", "", str),
    ("WECHAT_API_BASE_URL", "https://api.weixin.qq.com/cgi-bin/", str),
    ("DATABASE_URL", "", str),
    ("SECRET_KEY", "dev-secret-change-me", str),
    ("DATA_KEY", "", str),
    ("TIMESTAMP_WINDOW", 300, int),
    ("MAX_BODY_BYTES", 64 * 1024, int),
    ("DIALOG_TIMEOUT_MINUTES", 30, int),
    ("OFFICE_HOURS", OFFICE_HOURS_DEFAULT, str),  # the hand-off reply, the FAQ's {office_hours}, canned replies
    ("UNION_ADDRESS", "", str),  # the union's service centre, in answers; production refuses to start without it
    ("CONTENT_CACHE_DIR", "", str),  # built FAQ content and router kept between restarts; "off" disables
    ("CS_WINDOW_HOURS", 48, int),  # WeChat: customer-service messages only this long after the worker's last message
    ("CS_WINDOW_QUOTA", 5, int),  # … and at most this many in that window
    ("LEGAL_AID_MAX_OPEN", 1, int),  # upcoming legal-aid bookings one worker may hold
    ("WECHAT_API_TIMEOUT", 10.0, float),  # seconds per WeChat API call
    ("WECHAT_FORCE_REFRESH_PER_DAY", 10, int),  # stable token force_refresh budget (WeChat allows 20 a day)
    ("WECHAT_TEMPLATES_FILE", "", str),  # template messages per purpose; default config/wechat_templates.yaml
    ("OUTBOX_MAX_ATTEMPTS", 5, int),  # a row fails (WeChat's error kept) after this many attempts
    ("OUTBOX_BACKOFF_SECONDS", 30.0, float),  # first retry after about this long; doubles each time
    ("OUTBOX_BACKOFF_MAX_SECONDS", 3600.0, float),
    ("OUTBOX_LEASE_SECONDS", 120.0, float),  # a sender's claim on rows; then another sender takes over
    ("OUTBOX_BATCH", 50, int),  # rows a sender claims at a time
    ("OUTBOX_CONCURRENCY", 4, int),  # API calls a sender keeps in flight (threads)
    ("FAQ_DIR", "", str),
    ("MEMBERSHIP_OPTIONS_FILE", "", str),
    ("ENV", "development", str),  # production: refuses unsafe settings (bot/settings.py), no simulator
    # Scheduled jobs (bot/jobs/), Beijing local time; see README "Scheduled jobs".
    ("CHECKIN_REMINDER_TIME", "20:00", str),  # daily check-in reminder and the lapsed-period notice
    ("LEGAL_AID_REMINDER_TIME", "10:00", str),  # the reminder the day before a legal-aid booking
    ("LEGAL_AID_SLOT_WEEKS", 2, int),  # slots kept generated this many weeks ahead
    ("LEGAL_AID_SCHEDULE_FILE", "", str),  # the lawyers' weekly schedule (default config/legal_aid_slots.yaml)
    ("RETENTION_TIME", "03:00", str),  # the daily deletion the consent notices promise
    ("QUIET_HOURS", "22:00-08:00", str),  # reminders wait until it ends; "off" to turn off
    ("JOBS_INTERVAL_SECONDS", 60, int),  # `flask jobs run --loop`: seconds between ticks
    ("JOBS_LEASE_SECONDS", 300, int),  # a scheduler that stops ticking is replaced after this
    ("STAFF_ALERT_WEBHOOK_URL", "", str),  # POST JSON (escalation id, reason, link) for each new alert
    ("STAFF_ALERT_EMAIL", "", str),  # the on-duty staff address (needs SMTP_HOST)
    ("STAFF_ALERT_LINK", "http://127.0.0.1:5000/staff/inbox/{id}", str),  # {id} = the escalation id
    ("STAFF_ALERT_MAX_ATTEMPTS", 8, int),
    ("SMTP_HOST", "", str),
    ("SMTP_PORT", 587, int),
    ("SMTP_SECURITY", "starttls", str),  # starttls | ssl | none
    ("SMTP_USER", "", str),
    ("SMTP_PASSWORD", "", str),
    ("SMTP_FROM", "", str),
    # the staff workbench (/staff)
    ("WORKBENCH_FILE", "", str),  # response targets and reject reasons; default config/workbench.yaml
    ("COOKIE_SECURE", "", str),  # 1 / 0; empty: on in production (the session cookie only over https)
    ("TRUSTED_PROXIES", 0, int),  # reverse proxies in front of the app (X-Forwarded-For / -Proto)
    ("STAFF_SESSION_HOURS", 12, int),
    ("STAFF_POLL_SECONDS", 5, int),  # how often open workbench pages ask for new hand-offs and messages
    ("LOGIN_MAX_FAILURES", 5, int),  # wrong passwords in a row before an account is locked …
    ("LOGIN_LOCK_MINUTES", 15, int),  # … for this long
    ("LOGIN_IP_LIMIT", 20, int),  # failed logins from one address …
    ("LOGIN_IP_WINDOW_MINUTES", 15, int),  # … within this window before it is refused
    # the message path (issues 14 and 15): late answers, the spool, flood control
    ("REPLY_DEADLINE_SECONDS", 4.0, float),  # an answer ready later than this goes through the outbox (WeChat waits 5 s)
    ("WECHAT_RETRY_HOLD_SECONDS", 5.5, float),  # storage and spool both failing: hold the response this long so WeChat retries
    ("SPOOL_FILE", "", str),  # deliveries kept while the database is down; default beside the SQLite file / in instance/
    ("FLOOD_MESSAGES", 30, int),  # a worker's messages allowed within FLOOD_SECONDS (0: no limit) …
    ("FLOOD_SECONDS", 60, int),  # … beyond it: one 请稍后再发, the rest logged and not routed
    # issue 12: where 转人工 goes: "workbench" (/staff) or "wechat_kf" (WeChat's own 客服 tool)
    ("HANDOFF_TO", "workbench", str),
    ("WECHAT_KF_ACCOUNT", "", str),  # with wechat_kf: one 客服 account to receive hand-offs (optional)
]


def create_app(config: dict | None = None) -> Flask:
    """Create the bot's Flask app; `config` is applied last so tests win."""
    from bot.settings import check_production

    app = Flask(__name__, instance_relative_config=True, template_folder="bot/templates",
                static_folder="bot/static")
    app.extensions["app_factory"] = create_app  # for processes the app spawns (flask outbox send --processes)
    load_settings(app, config)
    check_production(app.config)  # ENV=production refuses unsafe settings, naming each (bot/settings.py)
    configure_logging(app)
    register_security(app)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    warm_up_router(app)
    return app


def load_settings(app: Flask, config: dict | None) -> None:
    try:
        from dotenv import load_dotenv

        load_dotenv(Path(app.root_path) / ".env", override=False)
    except ImportError:  # python-dotenv is optional at run time
        pass
    for name, default, convert in SETTINGS:
        raw = os.environ.get(name)
        app.config[name] = convert(raw) if raw not in (None, "") else default
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'bot.sqlite'}"
    if not app.config["FAQ_DIR"]:
        app.config["FAQ_DIR"] = str(Path(app.root_path) / "faq")
    app.config.update(config or {})
    from bot import security

    security.configure(app.config, given=config or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"]


def configure_logging(app: Flask) -> None:
    from bot.masking import mask_logs

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mask_logs("gunicorn.error")  # no ID or mobile number in the application logs


def register_security(app: Flask) -> None:
    from bot import security

    security.init_app(app)


def register_extensions(app: Flask) -> None:
    from bot.columns import json_dumps
    from bot.extensions import db, migrate
    from bot.staff import init_login
    from bot.storage import configure_engine

    # JSON columns store null for NaN / ±Infinity and no NUL characters, on every backend.
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {}).setdefault("json_serializer", json_dumps)
    db.init_app(app)
    init_login(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path) / "migrations"))
    with app.app_context():
        configure_engine(db.engine)


def register_blueprints(app: Flask) -> None:
    from bot.webhook import bp as webhook_bp

    from bot.staff import blueprint as staff_blueprint

    app.register_blueprint(webhook_bp)
    app.register_blueprint(staff_blueprint())
    if app.config["ENV"] == "development":  # and only to loopback clients (bot/simulator.py)
        from bot.simulator import bp as simulator_bp

        app.register_blueprint(simulator_bp)


def register_commands(app: Flask) -> None:
    from bot.cli import init_app

    init_app(app)


def warm_up_router(app: Flask) -> None:
    """`flask run` loads the router before it serves (gunicorn: gunicorn.conf.py)."""
    from bot.nlu.store import init_app

    init_app(app)
