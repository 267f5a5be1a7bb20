"""What one webhook message's database work costs on this machine, layer by layer.

    .venv/bin/python bench/db_floor.py            # 3000 messages per layer
    .venv/bin/python bench/db_floor.py -n 10000

Every text message needs (bot/webhook.py, exactly-once and a persisted dialog): one read of the
worker, their dialog row and a stored reply for the dedupe key (a retry gets it) → BEGIN IMMEDIATE →
insert the inbound message (with its reply) and the outbound reply → update the dialog row
(version-checked) → COMMIT. This script runs exactly those statements against a fresh SQLite file
(WAL, synchronous=NORMAL, created by the project's migrations) three ways:

- raw sqlite3 (the DBAPI, hand-written SQL: the cheapest Python can do),
- SQLAlchemy Core (statements built once, executed on a Connection),
- the bot's own message path, bot.hot_path.Unit (the same Core statements, the writer queue, the
  log rows, the version check), minus the handlers themselves,

and prints the CPU each costs per message. When bench/results/webhook.json holds a run, it also
prints the budget issue 14's CPU target leaves: at ≤ 2.5 × the bare endpoint's server CPU per
message, the bot may spend at most 1.5 × that CPU on everything the bare one does not do
(routing, the dialog, the database).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "webhook.json"
WORKERS = 500
# ENV=production refuses unsafe settings (bot/settings.py): a fresh secret, data key and token per run.
PRODUCTION_KEYS = {"SECRET_KEY": secrets.token_urlsafe(48), "DATA_KEY": Fernet.generate_key().decode(),
                   "UNION_ADDRESS": "bench",
                   "WECHAT_TOKEN": secrets.token_hex(16)}


def migrated_db(tmp: Path) -> Path:
    path = tmp / "bot.sqlite"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "ENV": "production", **PRODUCTION_KEYS}
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    return path


def timed(label: str, n: int, fn) -> float:
    for i in range(200):  # warm caches (statement caches, pages)
        fn(-1 - i)
    c0 = time.process_time()
    for i in range(n):
        fn(i)
    us = (time.process_time() - c0) / n * 1e6
    print(f"  {label:58} {us:8.1f} µs CPU/msg")
    return us


def seed(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for i in range(WORKERS):
        conn.execute("INSERT INTO worker (openid, subscribed, owner, created_at, last_seen_at) "
                     "VALUES (?, 1, 'bot', '2026-01-01 00:00:00', '2026-01-01 00:00:00')", (f"o{i}",))
        conn.execute("INSERT INTO dialog (worker_id, slots, context, failures, updated_at, version) "
                     "VALUES (?, '{}', '{}', 0, '2026-01-01 00:00:00', 1)", (i + 1,))
    conn.execute("COMMIT")


def raw_layer(path: Path, n: int, prefix: str) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 15000")

    def one(i: int) -> None:
        key, openid = f"{prefix}{i}", f"o{i % WORKERS}"
        w = conn.execute("SELECT w.id, w.owner, w.last_seen_at, d.id, d.context, d.version, "
                         "(SELECT reply_xml FROM message WHERE dedupe_key = ?) FROM worker w "
                         "LEFT JOIN dialog d ON d.worker_id = w.id WHERE w.openid = ?", (key, openid)).fetchone()
        if w[6] is not None:
            return
        json.loads(w[4])
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO message (worker_id, direction, kind, content, dedupe_key, reply_xml, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(w[0], "in", "text", "公司拖欠工资怎么办", key, "<xml>reply</xml>", "2026-11-23 10:00:00"),
                          (w[0], "out", "reply", "答复……", None, None, "2026-11-23 10:00:00")])
        cur = conn.execute("UPDATE dialog SET context = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
                           (json.dumps({"feedback": f"faq{i % 40}"}), "2026-11-23 10:00:00", w[5] + 1, w[3], w[5]))
        assert cur.rowcount == 1
        conn.execute("COMMIT")

    try:
        return timed("raw sqlite3 (DBAPI, hand-written SQL)", n, one)
    finally:
        conn.close()


def core_layer(path: Path, n: int, prefix: str) -> float:
    from sqlalchemy import create_engine

    sys.path.insert(0, str(ROOT))
    from bot import hot_path
    from datetime import timedelta

    from bot.clock import now
    from bot.models import Message
    from bot.storage import configure_engine

    engine = create_engine(f"sqlite:///{path}")
    configure_engine(engine)
    log = Message.__table__.insert()

    def one(i: int) -> None:
        key, openid = f"{prefix}{i}", f"o{i % WORKERS}"
        with engine.connect().execution_options(union_read_first=True) as conn:  # no BEGIN for the read
            row = conn.execute(hot_path.SNAPSHOT, {"openid": openid, "key": key,
                                                   "since": now() - timedelta(seconds=60)}).first()
            if row[-1] is not None:
                return
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            t = now()
            conn.execute(log, [dict(worker_id=row[0], direction="in", kind="text", content="公司拖欠工资怎么办",
                                    dedupe_key=key, reply_xml="<xml>reply</xml>", created_at=t),
                               dict(worker_id=row[0], direction="out", kind="reply", content="答复……",
                                    dedupe_key=None, reply_xml=None, created_at=t)])
            version = row[10]
            assert conn.execute(hot_path.UPDATE_DIALOG, {
                "b_id": row[3], "b_version": version, "v_version": version + 1, "v_flow": None, "v_state": None,
                "v_slots": {}, "v_context": {"feedback": f"faq{i % 40}"}, "v_failures": 0, "v_updated_at": t,
            }).rowcount == 1
            conn.commit()

    try:
        return timed("SQLAlchemy Core (prebuilt statements, one Connection)", n, one)
    finally:
        engine.dispose()


def unit_layer(path: Path, n: int, prefix: str) -> float:
    os.environ.update(DATABASE_URL=f"sqlite:///{path}", ENV="production", **PRODUCTION_KEYS)
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from bot import hot_path
    from bot.clock import now
    from bot.extensions import db

    app = create_app()

    def one(i: int) -> None:
        key, openid = f"{prefix}{i}", f"o{i % WORKERS}"
        unit = hot_path.Unit.begin(db.engine)
        try:
            snapshot = hot_path.read(unit.conn, openid, key)
            if snapshot.stored is not None:
                return
            worker_id = snapshot.worker["id"]
            inbound = unit.log(worker_id, "in", "text", "公司拖欠工资怎么办", dedupe_key=key)
            inbound["reply_xml"] = "<xml>reply</xml>"
            unit.log(worker_id, "out", "reply", "答复……")
            dialog = snapshot.dialog
            dialog.context, dialog.updated_at = {"feedback": f"faq{i % 40}"}, now()
            unit.begin_writing()
            unit.write_log()
            hot_path.save_dialog(unit.conn, dialog)
            unit.commit()
        finally:
            unit.close()

    with app.app_context():
        return timed("the bot's message path (bot.hot_path.Unit)", n, one)


def budget() -> None:
    if not RESULTS.exists():
        print("\n(no bench/results/webhook.json yet: run bench/webhook.py for the budget)")
        return
    data = json.loads(RESULTS.read_text())
    bare = data.get("summary", {}).get("bare")
    if not bare:
        return
    per_msg = bare["cpu_ms_per_msg"] * 1000
    allowed = per_msg * (2.5 - 1)
    print(f"\nbudget from {RESULTS.relative_to(ROOT)} ({data.get('generated_at')}): the bare echo's gunicorn used "
          f"{per_msg:.0f} µs CPU/msg;\n  at ≤ 2.5 × that (issue 14) the bot may add at most "
          f"{allowed:.0f} µs CPU/msg for routing, the dialog and the database together")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=3000, help="messages per layer (3000)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-db-floor-") as tmp:
        path = migrated_db(Path(tmp))
        with sqlite3.connect(path, isolation_level=None) as conn:
            seed(conn)
        print(f"one message's database work, {args.n} messages per layer, SQLite WAL on {tmp} "
              f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}):")
        raw_layer(path, args.n, "raw")
        core_layer(path, args.n, "core")
        unit_layer(path, args.n, "unit")
    budget()
    return 0


if __name__ == "__main__":
    sys.exit(main())
