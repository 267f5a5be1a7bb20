"""The webhook bench's cases: bare Flask + wechatpy, the bot on SQLite, the bot on PostgreSQL.

One case, one round: a fresh database (bot), a gunicorn started and timed to its first answer,
sampled replies checked with Python, a warm-up with wrk until the rate is steady, then the
measured runs (1 and/or 32 connections), unique memory of each process, the write-lock records of
the measured run (bench/gunicorn_bench.py), and the stored rows counted.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import (BENCH, ROOT, Requests, Server, post, postgres_processes, reply_text, run_wrk,
                     uss_mib)

MSGID_BASE = 4 * 10**18  # 19-digit MsgIds (fit in int64): distinct per case, round and phase
CASES = {  # name: (server, database, safe mode)
    "bare": ("bare", None, False),
    "bot-sqlite": ("bot", "sqlite", False),
    "bot-postgres": ("bot", "postgresql", False),
    "bare-safe": ("bare", None, True),
    "bot-sqlite-safe": ("bot", "sqlite", True),
    "bot-postgres-safe": ("bot", "postgresql", True),
}


@dataclass
class Case:
    name: str
    round_no: int = 0
    result: dict = field(default_factory=dict)

    @property
    def server(self) -> str:
        return CASES[self.name][0]

    @property
    def database(self) -> str | None:
        return CASES[self.name][1]

    @property
    def safe(self) -> bool:
        return CASES[self.name][2]

    def msg_ids(self, phase: int) -> int:
        """First MsgId of a phase: 0 launch and samples, 1 warm-up, 2 one connection, 3 many."""
        return MSGID_BASE + list(CASES).index(self.name) * 10**15 + self.round_no * 10**14 + phase * 10**13


def fresh_database(case: Case, work: Path, postgres_url: str) -> str:
    if case.database == "sqlite":
        return f"sqlite:///{work / 'bot.sqlite'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_{case.name}_{case.round_no}".replace("-", "_")
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def migrate(env: dict) -> None:
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{proc.stdout}{proc.stderr}")


def stored(url: str, first_id: int, last_id: int) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            keys = {"lo": f"msg:{first_id}", "hi": f"msg:{last_id}"}
            return {"inbound": conn.execute(text(
                        "SELECT count(*) FROM message WHERE direction = 'in' AND dedupe_key BETWEEN :lo AND :hi"),
                        keys).scalar(),
                    "without_reply": conn.execute(text(
                        "SELECT count(*) FROM message WHERE direction = 'in' AND dedupe_key BETWEEN :lo AND :hi "
                        "AND coalesce(reply_xml, '') = ''"), keys).scalar()}
    finally:
        engine.dispose()


def check_samples(server: Server, requests: Requests, case: Case, count: int) -> dict:
    from bot import texts

    ok, problems = 0, []
    first = case.msg_ids(0) + 1000
    for k in range(count):
        built = requests.build(case.safe, first + k)
        status, body = post(server.port, built)
        try:
            if status != 200:
                raise ValueError(f"HTTP {status}: {body[:120]!r}")
            text = reply_text(body, requests, case.safe, built)
            if case.server == "bare" and text != built.text:
                raise ValueError(f"bare echo {text!r} != {built.text!r}")
            if case.server == "bot" and text.strip() == texts.SYSTEM_BUSY.strip():
                raise ValueError("the bot answered SYSTEM_BUSY (it failed on this message)")
            ok += 1
        except Exception as exc:  # noqa: BLE001 – every kind of bad reply is reported, not raised
            problems.append({"text": built.text, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"sent": count, "ok": ok, "problems": problems[:5]}


def warm_up(server: Server, requests: Requests, case: Case, args, work: Path, measured) -> dict:
    """wrk in chunks until at least --warmup seconds have passed and two chunks agree within 15%."""
    first, rates, elapsed, rate = case.msg_ids(1), [], 0.0, 500.0
    while True:
        count = int(rate * 3 * 2) + 2000
        path = work / "warmup.txt"
        requests.write(path, case.safe, first, count)
        first += count
        run = run_wrk(args.wrk, server.url, path, args.connections, args.threads, 3.0, work, measured)
        rate = run["msgs_per_s"]
        rates.append(round(rate, 1))
        elapsed += 3.0
        steady = len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.15 * max(rates[-1], rates[-2]) \
            and not run["wrapped"]
        if (elapsed >= args.warmup and steady) or elapsed >= args.max_warmup:
            return {"seconds": elapsed, "chunk_rates": rates, "steady": steady, "rate": rate}


def measure(server: Server, requests: Requests, case: Case, args, work: Path, measured, connections: int,
            phase: int, rate: float) -> dict:
    count = max(args.min_requests, int(rate * args.duration * 2) + 2000)
    path = work / f"measure-{connections}.txt"
    requests.write(path, case.safe, case.msg_ids(phase), count)
    started = time.time()
    result = run_wrk(args.wrk, server.url, path, connections, args.threads, args.duration, work, measured)
    result.update(window=(started, time.time()), prebuilt=count, first_id=case.msg_ids(phase))
    return result


def lock_records(prefix: Path, window: tuple[float, float]) -> dict:
    """The writes of the measured run (bench/gunicorn_bench.py): wait for the turn, hold, busy share."""
    waits, holds = [], []
    for path in prefix.parent.glob(prefix.name + ".*.json"):
        for at, wait, hold in json.loads(path.read_text()):
            if window[0] <= at <= window[1]:
                waits.append(wait * 1000)
                holds.append(hold * 1000)
    if not holds:
        return {}
    holds.sort()
    waits.sort()
    q = lambda v, p: v[min(len(v) - 1, int(p * (len(v) - 1)))]  # noqa: E731
    return {"writes": len(holds), "hold_p50_ms": q(holds, 0.5), "hold_p99_ms": q(holds, 0.99),
            "wait_p50_ms": q(waits, 0.5), "wait_p99_ms": q(waits, 0.99),
            "busy_pct": 100 * sum(holds) / 1000 / (window[1] - window[0])}


def run_case(case: Case, args, requests: Requests, base_env: dict, tmp: Path, postgres_url: str) -> dict:
    work = tmp / f"{case.name}-{case.round_no}"
    work.mkdir()
    env, url = dict(base_env), None
    if case.server == "bot":
        url = env["DATABASE_URL"] = fresh_database(case, work, postgres_url)
        env["BENCH_LOCK_LOG"] = str(work / "locks")
        migrate(env)
        server = Server.gunicorn(case.name, "app:create_app()", env, args.workers, work / "gunicorn.log",
                                 config=BENCH / "gunicorn_bench.py")
    else:
        server = Server.gunicorn(case.name, "bare_app:create_app()", env, args.workers, work / "gunicorn.log",
                                 pythonpath=BENCH)
    result: dict = {"case": case.name, "round": case.round_no, "workers": args.workers}
    try:
        result["launch_to_first_answer_s"] = server.first_answer(requests, case.msg_ids(0))
        result["samples"] = check_samples(server, requests, case, args.samples)
        if result["samples"]["ok"] == 0:
            raise RuntimeError(f"{case.name}: no sampled request got a real reply:\n{server.log_tail()}")
        measured = {"server": server.processes()}
        if case.database == "postgresql":
            measured["postgres"] = postgres_processes(int(url.rsplit(":", 1)[1].split("/")[0]))
        result["warmup"] = warm_up(server, requests, case, args, work, measured)
        for connections, phase in ((1, 2), (args.connections, 3)):
            if connections == 1 and not args.single:
                continue
            run = measure(server, requests, case, args, work, measured, connections, phase,
                          result["warmup"]["rate"] if connections > 1 else result["warmup"]["rate"] / args.connections)
            result[f"c{connections}"] = run
        result["uss_mib"] = {"master": uss_mib(server.processes()[0]),
                             "workers": [uss_mib(p) for p in server.workers()]}
    finally:
        server.stop()
    many = result[f"c{args.connections}"]
    if case.server == "bot":
        result["locks"] = lock_records(work / "locks", many["window"])
        result["stored"] = stored(url, many["first_id"], many["first_id"] + many["prebuilt"] - 1)
        # answered during the run but not stored: rolled back (the bot replied SYSTEM_BUSY)
        result["unstored"] = max(0, min(many["requests"], many["prebuilt"]) - result["stored"]["inbound"])
    log_text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    result["server_log"] = {"tracebacks": log_text.count("Traceback"), "worker_timeouts": log_text.count("WORKER TIMEOUT")}
    return result


def serve_launch(args, requests: Requests, base_env: dict, tmp: Path, round_no: int) -> float:
    """`make run`'s server (`flask serve`: web app, scheduler, sender) from launch to the first answer."""
    work = tmp / f"serve-{round_no}"
    work.mkdir()
    env = {**base_env, "DATABASE_URL": f"sqlite:///{work / 'bot.sqlite'}", "ENV": "development"}
    migrate(env)
    server = Server.flask_serve("flask-serve", env, work / "serve.log")
    try:
        return server.first_answer(requests, MSGID_BASE + 9 * 10**15 + round_no * 10**14)
    finally:
        server.stop()


def median_round(runs: list[dict], name: str, key) -> dict:
    """The round with the median value of `key` (all its numbers from that round)."""
    mine = sorted((r for r in runs if r["case"] == name), key=key)
    return mine[(len(mine) - 1) // 2]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
