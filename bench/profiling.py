"""`bench/webhook.py --profile N`: where one message's CPU goes, in-process (Flask test client).

Bare and bot are driven in alternating blocks (their CPU per message, and the ratio, from the same
stretch of time), then the bot again with CPU-time timers around its parts (patched in memory
only), then once more under cProfile: the top functions and self time by package.
"""
from __future__ import annotations

import contextlib
import cProfile
import io
import logging
import os
import pstats
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

from harness import BENCH, ROOT, Requests, bot_settings

PARTS = [  # (module, attribute, label): nested, so shares overlap
    ("bot.wechat", "verify", "verify (timestamp, signature)"),
    ("bot.wechat", "fields", "read XML (defusedxml)"),
    ("bot.wechat", "decrypt", "decrypt (AES, safe mode)"),
    ("bot.unit_of_work", "prepare", "prepare: route free text (no lock)"),
    ("bot.unit_of_work", "handle", "handle: the unit of work"),
    ("bot.hot_path.Unit", "begin", "  connection (pool checkout)"),
    ("bot.hot_path", "read", "  read: worker + dialog + stored reply"),
    ("bot.unit_of_work", "process", "  process: dispatch and log"),
    ("bot.dispatch.Dispatcher", "__call__", "    dispatch (handlers, dialog, answers)"),
    ("bot.wechat", "render", "    render reply XML"),
    ("bot.hot_path.Unit", "begin_writing", "  begin_writing (queue, BEGIN IMMEDIATE)"),
    ("bot.hot_path.Unit", "write_log", "  INSERT the log rows"),
    ("bot.conversation.Conversation", "write", "  UPDATE the dialog (version-checked)"),
    ("bot.hot_path.Unit", "commit", "  COMMIT"),
    ("bot.hot_path.Unit", "close", "  close (release the lock, the connection)"),
]


def _owner(path: str):
    """The module or class a dotted path names (bot.hot_path.Unit → the class)."""
    import importlib

    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def timers(app, run) -> dict[str, list]:
    """Run `run()` with CPU-time timers (this thread's) around the bot's parts."""
    found: dict[str, list] = {}

    def timed(label, fn):
        def wrapper(*a, **kw):
            t0 = time.thread_time_ns()
            try:
                return fn(*a, **kw)
            finally:
                rec = found.setdefault(label, [0, 0])
                rec[0] += 1
                rec[1] += time.thread_time_ns() - t0
        return wrapper

    with contextlib.ExitStack() as stack:
        for owner_path, name, label in PARTS:
            owner = _owner(owner_path)
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            if isinstance(original, classmethod):
                bound = original.__func__
                stack.enter_context(mock.patch.object(owner, name, classmethod(
                    lambda cls, *a, _f=bound, _l=label, **k: timed(_l, _f)(cls, *a, **k))))
            else:
                stack.enter_context(mock.patch.object(owner, name, timed(label, getattr(owner, name))))
        stack.enter_context(mock.patch.dict(app.view_functions, {
            "wechat.receive": timed("the view (bot.webhook.receive)", app.view_functions["wechat.receive"])}))
        run()
    return found


def by_package(raw: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for (file, _line, name), v in raw.items():
        if file == "~":
            pkg = "C built-ins (" + ("sqlite3" if "sqlite3" in name else "other") + ")"
        elif "site-packages/" in file:
            pkg = file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif file.startswith(str(ROOT / "bot")):
            pkg = "bot." + file[len(str(ROOT / "bot")) + 1:].split("/", 1)[0].removesuffix(".py")
        elif file.startswith(str(BENCH)):
            pkg = "bench (driver)"
        else:
            pkg = "stdlib / other"
        out[pkg] = out.get(pkg, 0.0) + v[2]
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:16])


def profile(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-profile-"))
    aes_key = secrets.token_urlsafe(32).replace("-", "a").replace("_", "b")[:43]
    settings = {**bot_settings(aes_key), "DATABASE_URL": args.database_url or f"sqlite:///{tmp / 'bot.sqlite'}"}
    try:
        os.environ.update(settings)
        from cases import migrate

        migrate({**os.environ})
        import bare_app
        from app import create_app

        bot_app, bare = create_app(), bare_app.create_app()
        logging.getLogger().setLevel(logging.WARNING)
        requests = Requests(aes_key, args.openids, args.seed)
        safe, n = args.profile_mode == "safe", args.profile
        ids = iter(range(5 * 10**18, 6 * 10**18))

        def drive(app, count: int) -> int:
            """CPU nanoseconds (this thread) for `count` messages through the test client."""
            client = app.test_client()
            reqs = [requests.build(safe, next(ids)) for _ in range(count)]
            t0 = time.thread_time_ns()
            for b in reqs:
                resp = client.post(b.path, data=b.body.encode("utf-8"), headers={"Content-Type": "text/xml"})
                if resp.status_code != 200:
                    raise RuntimeError(f"HTTP {resp.status_code}: {resp.get_data(as_text=True)[:200]}")
            return time.thread_time_ns() - t0

        drive(bot_app, 2 * args.openids)  # every worker once (first messages hold the lock from the start)
        drive(bare, 300)
        bare_ns = bot_ns = 0
        for _ in range(10):
            bare_ns += drive(bare, n // 10)
            bot_ns += drive(bot_app, n // 10)
        bare_ms, bot_ms = bare_ns / n / 1e6, bot_ns / n / 1e6
        print(f"in-process, {args.profile_mode} mode, {n} text messages each, alternating blocks, CPU per message:")
        print(f"  bare {bare_ms:.3f} ms   bot {bot_ms:.3f} ms   bot/bare {bot_ms / bare_ms:.2f}   "
              f"(machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

        found = timers(bot_app, lambda: drive(bot_app, n))
        print(f"\nCPU-time timers around the bot's parts ({n} more messages; nested, so shares overlap):")
        print(f"  {'part':48} {'calls/msg':>9} {'ms/msg':>8}")
        order = ["the view (bot.webhook.receive)"] + [label for _, _, label in PARTS]
        for label in order:
            if label in found:
                calls, ns = found[label]
                print(f"  {label:48} {calls / n:9.2f} {ns / n / 1e6:8.3f}")

        prof = cProfile.Profile()
        prof.enable()
        drive(bot_app, n)
        prof.disable()
        raw = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        total = sum(v[2] for v in raw.values())
        print(f"\ncProfile self time by package ({n} messages; the profiler inflates Python-heavy code):")
        for pkg, secs in by_package(raw).items():
            print(f"  {pkg:40} {secs / n * 1000:8.3f} ms {100 * secs / total:5.1f}%")
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(args.profile_top)
        text = buf.getvalue()
        print(f"\n--- top {args.profile_top} by own time ---")
        print(text[text.find("   ncalls"):].rstrip())
        if args.profile_out:
            prof.dump_stats(args.profile_out)
            print(f"\nraw profile: {args.profile_out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0
