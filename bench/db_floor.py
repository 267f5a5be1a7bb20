"""What one webhook message's database work costs on this machine, layer by layer.

    .venv/bin/python bench/db_floor.py            # 3000 messages per layer
    .venv/bin/python bench/db_floor.py -n 10000

Every text message needs, in one write transaction (bot/webhook.py, exactly-once and a persisted
dialog): BEGIN IMMEDIATE → look up the dedupe key (a retry gets the stored reply) → load the worker
and their dialog row (one joined SELECT in the raw and Core layers, a floor: the bot takes two, as
PostgreSQL cannot lock the nullable side of an outer join) → update the dialog row (version-checked) → insert the inbound message (with
its reply) and the outbound reply → COMMIT. This script runs exactly those statements against a
fresh SQLite file (WAL, synchronous=NORMAL, created by the project's migrations) three ways:

- raw sqlite3 (the DBAPI, hand-written SQL: the cheapest Python can do),
- SQLAlchemy Core (statements built once, executed on a Connection),
- SQLAlchemy ORM as bot/webhook.py does it (the models, the session, write_transaction,
  bot.message_log), minus the handlers themselves,

and prints the CPU each costs per message. When bench/results/webhook.json holds a run, it also
prints the budget the webhook target leaves: at ≥ 60% of the bare endpoint's msgs/s, the bot may
spend at most (1/0.6 − 1) × the bare endpoint's server CPU per message on everything the bare one
does not do (routing, the dialog, the database).
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
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("SELECT reply_xml FROM message WHERE dedupe_key = ?", (key,)).fetchone() is None:
            w = conn.execute("SELECT w.id, w.owner, w.last_seen_at, d.id, d.context, d.version FROM worker w "
                             "LEFT JOIN dialog d ON d.worker_id = w.id WHERE w.openid = ?", (openid,)).fetchone()
            json.loads(w[4])
            cur = conn.execute("UPDATE dialog SET context = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?",
                               (json.dumps({"feedback": f"faq{i % 40}"}), "2026-11-23 10:00:00", w[5] + 1, w[3], w[5]))
            assert cur.rowcount == 1
            conn.executemany("INSERT INTO message (worker_id, direction, kind, content, dedupe_key, reply_xml, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(w[0], "in", "text", "公司拖欠工资怎么办", key, "<xml>reply</xml>", "2026-11-23 10:00:00"),
                              (w[0], "out", "reply", "答复……", None, None, "2026-11-23 10:00:00")])
        conn.execute("COMMIT")

    try:
        return timed("raw sqlite3 (DBAPI, hand-written SQL)", n, one)
    finally:
        conn.close()


def core_layer(path: Path, n: int, prefix: str) -> float:
    from sqlalchemy import bindparam, create_engine, insert, select, update

    sys.path.insert(0, str(ROOT))
    from bot.models import Dialog, Message, Worker
    from bot.storage import configure_engine

    engine = create_engine(f"sqlite:///{path}")
    configure_engine(engine)
    stored = select(Message.reply_xml).where(Message.dedupe_key == bindparam("key"))
    load = (select(Worker.id, Worker.owner, Worker.last_seen_at, Dialog.id, Dialog.context, Dialog.version)
            .outerjoin(Dialog, Dialog.worker_id == Worker.id).where(Worker.openid == bindparam("openid")))
    save = (update(Dialog).where(Dialog.id == bindparam("did"), Dialog.version == bindparam("v"))
            .values(context=bindparam("ctx"), updated_at=bindparam("at"), version=bindparam("v2")))
    log = insert(Message)
    from bot.clock import now

    def one(i: int) -> None:
        key, openid = f"{prefix}{i}", f"o{i % WORKERS}"
        with engine.connect().execution_options(union_write_lock=True) as conn, conn.begin():
            if conn.execute(stored, {"key": key}).first() is None:
                w = conn.execute(load, {"openid": openid}).first()
                t = now()
                assert conn.execute(save, {"did": w[3], "v": w[5], "v2": w[5] + 1, "at": t,
                                           "ctx": {"feedback": f"faq{i % 40}"}}).rowcount == 1
                conn.execute(log, [dict(worker_id=w[0], direction="in", kind="text", content="公司拖欠工资怎么办",
                                        dedupe_key=key, reply_xml="<xml>reply</xml>", created_at=t),
                                   dict(worker_id=w[0], direction="out", kind="reply", content="答复……",
                                        dedupe_key=None, reply_xml=None, created_at=t)])

    try:
        return timed("SQLAlchemy Core (prebuilt statements, one Connection)", n, one)
    finally:
        engine.dispose()


def orm_layer(path: Path, n: int, prefix: str) -> float:
    os.environ.update(DATABASE_URL=f"sqlite:///{path}", ENV="production", **PRODUCTION_KEYS)
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from bot import message_log, webhook
    from bot.clock import now
    from bot.dialog import DIALOG_FOR_UPDATE
    from bot.extensions import db
    from bot.storage import write_transaction

    app = create_app()

    def one(i: int) -> None:
        key, openid = f"{prefix}{i}", f"o{i % WORKERS}"
        write_transaction(db.session)
        if db.session.scalars(webhook.STORED_REPLY, {"key": key}).first() is None:
            worker = webhook.load_worker(openid)
            dialog = db.session.scalars(DIALOG_FOR_UPDATE, {"worker_id": worker.id}).first()
            dialog.context = {"feedback": f"faq{i % 40}"}
            dialog.updated_at = now()
            message_log.record(db.session, worker.id, "in", "text", "公司拖欠工资怎么办", dedupe_key=key,
                               reply_xml="<xml>reply</xml>")
            message_log.record(db.session, worker.id, "out", "reply", "答复……")
        db.session.commit()

    with app.app_context():
        try:
            return timed("SQLAlchemy ORM, as bot/webhook.py (models, session)", n, one)
        finally:
            db.session.remove()


def budget() -> None:
    if not RESULTS.exists():
        print("\n(no bench/results/webhook.json yet: run bench/webhook.py for the budget)")
        return
    data = json.loads(RESULTS.read_text())
    cases = {c["case"]: c for c in data.get("cases", []) if "case" in c}
    bare = cases.get("bare-plain")
    if not bare:
        return
    rate = bare["requests"] / (bare["duration_us"] / 1e6)
    per_msg = bare["server_cpu_pct"] / 100 / rate * 1e6
    allowed = per_msg * (1 / 0.6 - 1)
    print(f"\nbudget from {RESULTS.relative_to(ROOT)} ({data.get('generated_at')}): bare plain {rate:,.0f} msgs/s, "
          f"its gunicorn workers used {per_msg:.0f} µs CPU/msg;\n  at ≥ 60% of that rate the bot may add at most "
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
        orm_layer(path, args.n, "orm")
    budget()
    return 0


if __name__ == "__main__":
    sys.exit(main())
