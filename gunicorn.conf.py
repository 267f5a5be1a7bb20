"""gunicorn settings for the bot; gunicorn reads this file when started in the project directory.

Only a start-up hook: worker count, address and the rest stay on the command line (README,
"Production").
"""


def post_worker_init(worker):
    """Build the FAQ router in each worker before it takes a request.

    Building it takes about 3 s (jieba's dictionary, the model). Left to the first message, a
    worker that has just started would answer that message in over 3 s, close to the 5 s after
    which WeChat gives up and retries, and every worker pays it again after each restart or deploy.
    """
    app = worker.wsgi
    config = getattr(app, "config", None)
    if not config or "FAQ_DIR" not in config:  # another app (bench/bare_app.py): nothing to load
        return
    from bot.nlu import get_index

    try:
        with app.app_context():
            index = get_index()
        worker.log.info("router ready: %d FAQ entries, built in %.1f s", len(index.entries), index.build_seconds)
    except Exception:  # the FAQ is broken: the worker still serves, and the first message retries
        worker.log.exception("could not build the router at start-up")
