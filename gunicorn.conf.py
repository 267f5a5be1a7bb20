"""gunicorn settings for the bot; gunicorn reads this file when started in the project directory.

The router is loaded once, in the master, before the listening socket opens and before the
workers fork (preload_app): every worker starts with it (shared copy-on-write), and the first
message after a start or deploy is answered at routing speed instead of waiting for a build
(WeChat gives up after 5 s). The index comes from the content cache when the FAQ has not changed
(about a second), else it is built and cached. Worker count, address and the rest stay on the
command line (README, "Production").
"""

preload_app = True


def _bot_app(server):
    app = server.app.wsgi()
    config = getattr(app, "config", None)
    # another app (bench/bare_app.py) has no FAQ: nothing to load
    return app if config is not None and "FAQ_DIR" in config else None


def on_starting(server):
    """In the master, after the app is preloaded and before the socket opens: load the router."""
    app = _bot_app(server)
    if app is None:
        return
    from bot.nlu import warm_up

    try:
        with app.app_context():
            seconds = warm_up()
        server.log.info("router ready in %.2f s (before serving)", seconds)
        # Imported lazily on the message path (so `flask run` starts sooner); here once, so the
        # workers share it instead of each importing it at its first numeral.
        import cn2an  # noqa: F401
    except Exception:  # the FAQ and its last good snapshot are both unusable: say so, still serve
        server.log.exception("could not load the router before serving")


def post_fork(server, worker):
    """SQLAlchemy's advice for os.fork(): a worker never reuses the master's pooled connections
    (https://docs.sqlalchemy.org/en/20/core/pooling.html#using-connection-pools-with-multiprocessing-or-os-fork)."""
    app = _bot_app(server)
    if app is None:
        return
    from bot.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)
