"""`flask serve` (what `make run` starts): the web app with the scheduler and the outbox sender in
background threads of the one development process, all stopped cleanly on Ctrl-C.

Production runs these as separate processes instead (gunicorn; `flask jobs run --loop` or a cron
tick; `flask outbox send --loop`), never one scheduler per gunicorn worker: see README.
"""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from bot.extensions import db

log = logging.getLogger(__name__)
JOIN_TIMEOUT = 20  # seconds: a tick or a send in progress finishes; the API timeout is 10 s


def start_fake_wechat_api(app: Flask) -> Callable[[], None] | None:
    """The fake WeChat API server (bot/fake_wechat.py) for development, when no real account is
    configured (no WECHAT_APP_SECRET): the sender delivers to it and /dev/chat shows what it got.
    Returns the function that stops it (called on Ctrl-C after the sender has stopped)."""
    if app.config.get("WECHAT_APP_SECRET") or app.config.get("ENV") == "production":
        return None
    from bot.fake_wechat import FakeWeChat

    fake = FakeWeChat().start()
    app.config.update(WECHAT_API_BASE_URL=fake.url, WECHAT_APP_SECRET="fake-wechat-secret")
    click.echo(f"fake WeChat API: {fake.url} (what it got: http://{fake.host}:{fake.port}/_fake/sent)")
    return fake.stop


def scheduler_loop(app: Flask, stop: threading.Event, interval: float) -> None:
    from bot import jobs

    def report(results):
        if results and any(results.values()):
            log.info("jobs: %s", jobs.summary(results).replace("\n", "; "))

    with app.app_context():
        jobs.Scheduler().loop(stop, interval, report=report)


def sender_loop(app: Flask, stop: threading.Event, interval: float) -> None:
    """`flask outbox send --loop`, in a thread."""
    from bot import wechat_api
    from bot.sender import Sender

    with app.app_context():
        sender = Sender(wechat_api.client(), app.config, should_stop=stop.is_set)
        while not stop.is_set():
            try:
                counts = sender.drain()
                if any(counts[k] for k in counts if k != "claimed"):
                    log.info("outbox: %s", " ".join(f"{k}={v}" for k, v in counts.items() if v))
            except Exception:  # noqa: BLE001 – keep the dev server's sender alive; the error is logged
                db.session.rollback()
                log.exception("outbox sender failed; trying again in %s s", interval)
            finally:
                db.session.remove()
            stop.wait(interval)
        sender.close()


def _load_router() -> None:
    """Before serving, as gunicorn's master does (gunicorn.conf.py): the first message is answered at
    routing speed instead of waiting for the index (seconds; WeChat gives up after 5)."""
    from bot.nlu import warm_up

    try:
        click.echo(f"router ready in {warm_up():.2f} s")
    except Exception:  # the FAQ and its last good snapshot are both unusable: say so, still serve
        log.exception("could not load the router before serving")


def _interrupt(*_):
    raise KeyboardInterrupt  # SIGTERM stops the server the way Ctrl-C does (werkzeug handles that)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--jobs-interval", default=10.0, show_default=True, help="Seconds between scheduler ticks.")
@click.option("--send-interval", default=2.0, show_default=True, help="Seconds between outbox sends.")
@click.option("--no-background", is_flag=True, help="Only the web app (no scheduler, no sender).")
@with_appcontext
def serve(host: str, port: int, jobs_interval: float, send_interval: float, no_background: bool) -> None:
    """Development server: the bot, /dev/chat, the scheduler and the outbox sender in one process."""
    app = current_app._get_current_object()
    _load_router()
    stop, stop_fake = threading.Event(), start_fake_wechat_api(app)
    threads = []
    if not no_background:
        threads.append(threading.Thread(target=scheduler_loop, args=(app, stop, jobs_interval), name="scheduler"))
        if app.config.get("WECHAT_APP_SECRET"):
            threads.append(threading.Thread(target=sender_loop, args=(app, stop, send_interval), name="outbox"))
        else:
            click.echo("outbox sender: off (no WECHAT_APP_SECRET); queued messages wait")
    for thread in threads:
        thread.start()
    click.echo(f"background: {', '.join(t.name for t in threads) or 'none'} · Ctrl-C stops everything")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (nohup, &)
    try:
        run_simple(host, port, app, use_reloader=False, threaded=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("%s did not stop within %s s", thread.name, JOIN_TIMEOUT)
        if stop_fake is not None:
            stop_fake()
        click.echo("stopped: " + (", ".join(t.name for t in threads) or "web app"))
