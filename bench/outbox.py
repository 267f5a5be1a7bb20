"""Outbox fan-out: N reminders through the fake WeChat API with injected failures and slow answers.

    .venv/bin/python bench/outbox.py                           # 10,000 reminders; 1, 2 and 4 sender processes
    .venv/bin/python bench/outbox.py --messages 2000 --processes 2 --concurrency 1
    .venv/bin/python bench/outbox.py --database-url postgresql+psycopg://postgres@127.0.0.1:5433/postgres

The fake WeChat API (bot/fake_wechat.py) runs as a separate process. Per sender count: a fresh
SQLite database (or PostgreSQL with --database-url; migrated), one worker per reminder (80 % with an open 48-hour window: customer-
service message; 20 % without: template message), all reminders queued, the fake reset and told
to answer a share of message calls with -1 (system busy: retried with back-off) and another share
slowly. Then `flask outbox send --loop --processes N` runs until every row is final, and is
stopped with SIGTERM.

Printed per run: messages/s (rows / seconds from the first API call to the last delivery, as the
fake recorded them) and wall time including process start; what WeChat got, counted on the fake's
side: distinct workers reached and deliveries beyond one per worker (must be N and 0); rows by
status in the database; injected failures and slow answers; CPU seconds of the senders and of the
fake. The JSON goes to bench/results/outbox.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "outbox.json"
APP_ID = "wxbench00000000001"
TEMPLATES = "purposes:\n  reminder:\n    template_id: TPL_REMIND\n    fields:\n      thing1: '{content}'\n"


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake(port: int, seed: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bot.fake_wechat", "--port", str(port), "--seed", str(seed)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    if "fake WeChat API" not in line:
        raise RuntimeError(f"fake server did not start: {line!r}")
    return proc


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prepare(workdir: Path, n: int, env: dict) -> None:
    """Migrated database with n workers and n queued reminders (bulk inserts, not the ORM)."""
    os.environ.update(env)
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app import create_app
    from bot.clock import now
    from bot.extensions import db
    from bot.models import Outbox, Worker

    app = create_app({"DATABASE_URL": env["DATABASE_URL"]})
    with app.app_context():
        upgrade()
        t = now()
        db.session.execute(insert(Worker), [
            {"openid": f"o_bench_{i:06d}", "subscribed": True, "owner": "bot", "created_at": t,
             "last_seen_at": t - timedelta(hours=1) if i % 5 else None} for i in range(n)])
        ids = db.session.scalars(db.select(Worker.id).order_by(Worker.id)).all()
        db.session.execute(insert(Outbox), [
            {"worker_id": wid, "kind": "text", "purpose": "reminder", "dedupe_key": f"bench:reminder:{wid}",
             "status": "pending", "attempts": 0, "created_at": t,
             "payload": {"content": "您今天还没有健康打卡，回复“打卡”开始"}} for wid in ids])
        db.session.commit()
        db.engine.dispose()


def db_counts(url: str) -> Counter:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return Counter(dict(conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status")).all()))
    finally:
        engine.dispose()


def database(args, workdir: Path, processes: int) -> str:
    """SQLite in the run's temp dir, or a fresh database on the --database-url server."""
    if not args.database_url:
        return f"sqlite:///{workdir / 'bench.sqlite'}"
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"outbox_bench_{os.getpid()}_{processes}"
    server = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    server.dispose()
    return make_url(args.database_url).set(database=name).render_as_string(hide_password=False)


def run(args, processes: int, fake_url: str, control: str, fake_pid: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    (workdir / "templates.yaml").write_text(TEMPLATES)
    env = {"DATABASE_URL": database(args, workdir, processes), "WECHAT_API_BASE_URL": fake_url,
           "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": "bench-secret",
           "WECHAT_TEMPLATES_FILE": str(workdir / "templates.yaml"), "OUTBOX_BACKOFF_SECONDS": "0.2",
           "OUTBOX_BACKOFF_MAX_SECONDS": "2", "OUTBOX_BATCH": str(args.batch), "FLASK_APP": "app",
           "WECHAT_API_TIMEOUT": "5", "OUTBOX_CONCURRENCY": str(args.concurrency)}
    log(f"[{processes} process(es)] preparing {args.messages} reminders in {workdir}")
    prepare(workdir, args.messages, env)
    requests.post(control + "reset", timeout=10).raise_for_status()
    requests.post(control + "faults", timeout=10, json={"faults": [
        {"errcode": -1, "share": args.fail, "path": "message/"},
        {"slow": args.slow_seconds, "share": args.slow, "path": "message/"}]}).raise_for_status()
    fake_cpu0, children0 = cpu_seconds(fake_pid), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "outbox", "send", "--loop", "--interval", "0.2",
                             "--processes", str(processes)], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    final = ("sent", "failed", "unknown", "skipped", "parked")
    while True:
        time.sleep(0.25)
        counts = db_counts(env["DATABASE_URL"])
        if sum(counts[s] for s in final) >= args.messages or proc.poll() is not None:
            break
        if time.monotonic() - started > args.timeout:
            log("timed out", dict(counts))
            break
    wall = time.monotonic() - started
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sender_cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    fake_cpu = cpu_seconds(fake_pid) - fake_cpu0
    sent = requests.get(control + "sent", timeout=60).json()["sent"]
    calls = requests.get(control + "calls", params={"path": "message/"}, timeout=60).json()["calls"]
    per_worker = Counter(m["touser"] for m in sent)
    first_call = min(c["at"] for c in calls)
    last_sent = max(m["at"] for m in sent)
    faults = Counter(c.get("fault", "").split("=")[0] for c in calls if c.get("fault"))
    result = {
        "processes": processes, "messages": args.messages, "wall_s": round(wall, 2),
        "send_s": round(last_sent - first_call, 2),
        "msgs_per_s": round(len(per_worker) / (last_sent - first_call), 1),
        "msgs_per_s_wall": round(len(per_worker) / wall, 1),
        "workers_reached": len(per_worker), "extra_deliveries": sum(n - 1 for n in per_worker.values()),
        "by_msgtype": dict(Counter(m["msgtype"] for m in sent)), "api_calls": len(calls),
        "injected_busy": faults["errcode"], "injected_slow": faults["slow"],
        "db_status": dict(db_counts(env["DATABASE_URL"])), "sender_cpu_s": round(sender_cpu, 1),
        "fake_cpu_s": round(fake_cpu, 1), "sender_exit": proc.returncode,
    }
    if proc.returncode:
        log(err[-2000:])
    cleanup(args, workdir, env["DATABASE_URL"])
    return result


def cleanup(args, workdir: Path, url: str) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    if args.database_url:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        server = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--fail", type=float, default=0.01, help="share of message calls answered -1")
    parser.add_argument("--slow", type=float, default=0.01, help="share of message calls answered slowly")
    parser.add_argument("--slow-seconds", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="OUTBOX_CONCURRENCY: calls in flight per process")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server URL (a database per run is created)")
    args = parser.parse_args()
    port = free_port()
    fake = start_fake(port, args.seed)
    fake_url, control = f"http://127.0.0.1:{port}/cgi-bin/", f"http://127.0.0.1:{port}/_fake/"
    results = []
    try:
        for n in args.processes:
            results.append(run(args, n, fake_url, control, fake.pid))
            log(json.dumps(results[-1], ensure_ascii=False))
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    print(f"{'procs':>5} {'msgs/s':>7} {'wall msgs/s':>11} {'send s':>7} {'reached':>8} {'twice':>6} "
          f"{'busy':>5} {'slow':>5} {'sender CPU s':>12} {'fake CPU s':>10}  db status")
    for r in results:
        print(f"{r['processes']:>5} {r['msgs_per_s']:>7} {r['msgs_per_s_wall']:>11} {r['send_s']:>7} "
              f"{r['workers_reached']:>8} {r['extra_deliveries']:>6} {r['injected_busy']:>5} {r['injected_slow']:>5} "
              f"{r['sender_cpu_s']:>12} {r['fake_cpu_s']:>10}  {r['db_status']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results, "args": vars(args), "machine": {
        "python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()}}, indent=2))


if __name__ == "__main__":
    main()
