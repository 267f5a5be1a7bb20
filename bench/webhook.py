"""Webhook throughput, latency, CPU and memory: the bot's POST /wechat next to a bare Flask + wechatpy echo.

    .venv/bin/python bench/webhook.py --compare          # bare, bot on SQLite, bot on PostgreSQL, 3 rounds
    .venv/bin/python bench/webhook.py                    # bare / bot on SQLite, plain and safe mode, once
    .venv/bin/python bench/webhook.py --profile 2000     # where the bot's CPU goes, in-process

Each case runs on its own gunicorn (sync workers, the same number for every case) on 127.0.0.1,
loaded by wrk replaying pre-built, signed requests (bench/harness.py, bench/wrk_requests.lua); the
cases are bench/cases.py, the in-process profile bench/profiling.py. --compare interleaves the cases
(A B C A B C …) and reports each one's medians over the rounds, the bot/bare ratios against the
targets, and the scale-out arithmetic (PostgreSQL's CPU per message apart from the app's). Results:
bench/results/webhook.json. See bench/README.md.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, Case, median, median_round, run_case, serve_launch  # noqa: E402
from harness import ROOT, Requests, bot_settings, log  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "webhook.json"
COMPARE = ("bare", "bot-sqlite", "bot-postgres")
DEFAULT = ("bare", "bot-sqlite", "bare-safe", "bot-sqlite-safe")
TARGETS = {  # issue 14: the bot on SQLite against the bare echo, at 32 connections, in one run
    "rate": 0.40,  # msgs/s ≥ 0.40 × bare
    "p99": 3.0,  # p99 ≤ 3 × bare
    "cpu": 2.5,  # server CPU per message ≤ 2.5 × bare
    "launch_s": 2.0,  # launch → first answer, gunicorn with 2 workers
    "serve_launch_s": 1.0,  # … and under `make run` (flask serve)
    "uss_mib": 60.0,  # unique memory per extra worker
}
HEADROOM = 0.7  # plan servers to run at most 70 % busy


def fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def summarise(runs: list[dict], names: list[str], args) -> dict:
    many = f"c{args.connections}"
    out = {}
    for name in names:
        mine = [r for r in runs if r["case"] == name]
        chosen = median_round(runs, name, lambda r: r[many]["msgs_per_s"])
        row = {
            "rounds": len(mine),
            "msgs_per_s": median([r[many]["msgs_per_s"] for r in mine]),
            "p50_ms": median([r[many]["p50_ms"] for r in mine]),
            "p99_ms": median([r[many]["p99_ms"] for r in mine]),
            "cpu_ms_per_msg": median([r[many]["server_cpu_ms_per_msg"] for r in mine]),
            "postgres_cpu_ms_per_msg": median([r[many].get("postgres_cpu_ms_per_msg") for r in mine]),
            "launch_s": median([r["launch_to_first_answer_s"] for r in mine]),
            "worker_uss_mib": median([max(w for w in r["uss_mib"]["workers"] if w) for r in mine]),
            "master_uss_mib": median([r["uss_mib"]["master"] for r in mine]),
            "other_cpu_pct": median([r[many]["other_cpu_pct"] for r in mine]),
            "per_round_msgs_per_s": [round(r[many]["msgs_per_s"], 1) for r in mine],
            "median_round": chosen["round"],
        }
        if args.single:
            row.update(c1_msgs_per_s=median([r["c1"]["msgs_per_s"] for r in mine]),
                       c1_p50_ms=median([r["c1"]["p50_ms"] for r in mine]),
                       c1_p99_ms=median([r["c1"]["p99_ms"] for r in mine]))
        locks = [r.get("locks") or {} for r in mine]
        if any(locks):  # SQLite: the write lock; PostgreSQL: the write phase (row locks, no single lock)
            row.update(hold_p50_ms=median([x.get("hold_p50_ms") for x in locks]),
                       hold_p99_ms=median([x.get("hold_p99_ms") for x in locks]),
                       wait_p50_ms=median([x.get("wait_p50_ms") for x in locks]))
            if CASES[name][1] == "sqlite":
                row["lock_busy_pct"] = median([x.get("busy_pct") for x in locks])
        out[name] = row
    return out


def ratios(summary: dict, serve: list[float]) -> dict:
    bot, bare = summary.get("bot-sqlite"), summary.get("bare")
    if not bot or not bare:
        return {}
    r = {"rate": bot["msgs_per_s"] / bare["msgs_per_s"], "p99": bot["p99_ms"] / bare["p99_ms"],
         "cpu": bot["cpu_ms_per_msg"] / bare["cpu_ms_per_msg"], "launch_s": bot["launch_s"],
         "uss_mib": bot["worker_uss_mib"], "serve_launch_s": median(serve)}
    checks = {"rate": r["rate"] >= TARGETS["rate"], "p99": r["p99"] <= TARGETS["p99"],
              "cpu": r["cpu"] <= TARGETS["cpu"], "launch_s": r["launch_s"] <= TARGETS["launch_s"],
              "uss_mib": r["uss_mib"] is not None and r["uss_mib"] <= TARGETS["uss_mib"],
              "serve_launch_s": r["serve_launch_s"] is not None and r["serve_launch_s"] <= TARGETS["serve_launch_s"]}
    return {"values": r, "met": checks}


def scale_out(summary: dict) -> dict:
    """Cores for 1,000 and 10,000 messages/s from the PostgreSQL case's CPU per message."""
    pg = summary.get("bot-postgres")
    if not pg or pg.get("postgres_cpu_ms_per_msg") is None:
        return {}
    app_ms, db_ms = pg["cpu_ms_per_msg"], pg["postgres_cpu_ms_per_msg"]
    plan = {}
    for rate in (1_000, 10_000):
        plan[rate] = {"app_cores": rate * app_ms / 1000 / HEADROOM, "postgres_cores": rate * db_ms / 1000 / HEADROOM}
    return {"app_cpu_ms_per_msg": app_ms, "postgres_cpu_ms_per_msg": db_ms, "headroom": HEADROOM, "plan": plan}


def print_report(summary: dict, compared: dict, plan: dict, serve: list[float], args) -> None:
    head = ["case", f"msgs/s@{args.connections}", "p50 ms", "p99 ms", "CPU ms/msg", "PG ms/msg", "launch s",
            "worker USS", "writes p50/p99 ms", "lock busy"]
    if args.single:
        head[1:1] = ["msgs/s@1", "p50@1", "p99@1"]
    rows = []
    for name, s in summary.items():
        row = [name, fmt(s["msgs_per_s"]), fmt(s["p50_ms"], 2), fmt(s["p99_ms"], 2), fmt(s["cpu_ms_per_msg"], 2),
               fmt(s["postgres_cpu_ms_per_msg"], 2), fmt(s["launch_s"], 2), f"{fmt(s['worker_uss_mib'])} MiB",
               f"{fmt(s.get('hold_p50_ms'), 2)}/{fmt(s.get('hold_p99_ms'), 2)}",
               f"{fmt(s.get('lock_busy_pct'), 0)}%" if s.get("lock_busy_pct") is not None else "-"]
        if args.single:
            row[1:1] = [fmt(s["c1_msgs_per_s"]), fmt(s["c1_p50_ms"], 2), fmt(s["c1_p99_ms"], 2)]
        rows.append(row)
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print(f"(medians of {args.rounds} interleaved round(s); {args.workers} sync workers; CPU = the server's processes "
          "per message, psutil; PG = the PostgreSQL server's; writes = a message's write phase, from its turn to "
          "its commit (SQLite: the write lock held); lock busy = share of the run the SQLite write lock was held; "
          "msgs/s per round: "
          + "; ".join(f"{n} {s['per_round_msgs_per_s']}" for n, s in summary.items()) + ")")
    if serve:
        print(f"`flask serve` (make run) launch → first answer: {', '.join(f'{s:.2f}' for s in serve)} s")
    if compared:
        v, met = compared["values"], compared["met"]
        print("\nbot on SQLite against bare, at", args.connections, "connections:")
        for key, label, target in (("rate", "msgs/s ratio", f"≥ {TARGETS['rate']}"),
                                   ("p99", "p99 ratio", f"≤ {TARGETS['p99']}"),
                                   ("cpu", "server CPU per message ratio", f"≤ {TARGETS['cpu']}"),
                                   ("launch_s", "launch → first answer (s)", f"≤ {TARGETS['launch_s']}"),
                                   ("serve_launch_s", "make run: launch → first answer (s)",
                                    f"≤ {TARGETS['serve_launch_s']}"),
                                   ("uss_mib", "unique memory per worker (MiB)", f"≤ {TARGETS['uss_mib']}")):
            print(f"  {label:38} {fmt(v[key], 2):>8}  (target {target}: {'met' if met[key] else 'MISSED'})")
    if plan:
        print(f"\nscale-out on PostgreSQL (this machine's CPU per message; servers at most {HEADROOM:.0%} busy):"
              f" app {plan['app_cpu_ms_per_msg']:.2f} ms, PostgreSQL {plan['postgres_cpu_ms_per_msg']:.2f} ms")
        for rate, p in plan["plan"].items():
            print(f"  {rate:>6,} msgs/s: app {p['app_cores']:.1f} cores (e.g. {-(-p['app_cores'] // 8):.0f} servers "
                  f"of 8 cores), PostgreSQL {p['postgres_cores']:.1f} cores")
    busy = [n for n, s in summary.items() if (s["other_cpu_pct"] or 0) > 25]
    if busy:
        print(f"\nwarning: other processes used > 25% of a core during {', '.join(busy)}: absolute numbers are "
              "skewed; the ratios of interleaved rounds much less")


def environment() -> dict:
    import gunicorn
    import psutil

    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "gunicorn": gunicorn.__version__, "psutil": psutil.__version__, "load": os.getloadavg()}
    info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True, timeout=10).stdout.strip()
    return info


def bench(args) -> int:
    args.wrk = args.wrk or shutil.which("wrk")
    if not args.wrk:
        print("wrk is not installed. On Debian: apt-get install -y wrk (or pass --wrk PATH)", file=sys.stderr)
        return 2
    names = list(COMPARE if args.compare else DEFAULT) if not args.cases else args.cases.split(",")
    unknown = set(names) - set(CASES)
    if unknown:
        print(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2
    postgres_url = args.database_url or os.environ.get("TEST_POSTGRES_URL", "")
    if any(CASES[n][1] == "postgresql" for n in names) and not postgres_url:
        # a throw-away PostgreSQL server for the run, as `make test` starts one
        log("starting a throw-away PostgreSQL server (scripts/with-postgres.sh) …")
        os.execv(str(ROOT / "scripts" / "with-postgres.sh"),
                 [str(ROOT / "scripts" / "with-postgres.sh"), sys.executable, *sys.argv])
    aes_key = base64.b64encode(os.urandom(32)).decode()[:43]
    requests = Requests(aes_key, args.openids, args.seed)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "FLASK_"))}
    base_env.update(bot_settings(aes_key), PYTHONUNBUFFERED="1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    runs, serve = [], []
    try:
        for round_no in range(args.rounds):  # interleaved: a slow drift of the machine hits every case alike
            for name in names:
                r = run_case(Case(name, round_no), args, requests, base_env, tmp, postgres_url)
                runs.append(r)
                many = r[f"c{args.connections}"]
                log(f"[{name} round {round_no + 1}] {many['msgs_per_s']:.1f} msgs/s, p50 {many['p50_ms']:.2f} ms, "
                    f"p99 {many['p99_ms']:.2f} ms, CPU {many['server_cpu_ms_per_msg']:.2f} ms/msg, "
                    f"launch {r['launch_to_first_answer_s']:.2f} s")
            if args.compare:
                serve.append(serve_launch(args, requests, base_env, tmp, round_no))
                log(f"[flask serve round {round_no + 1}] launch → first answer {serve[-1]:.2f} s")
    finally:
        if args.keep_temp:
            log(f"temp files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = summarise(runs, names, args)
    compared, plan = ratios(summary, serve), scale_out(summary)
    print()
    print_report(summary, compared, plan, serve, args)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "settings": vars(args),
                               "environment": environment(), "summary": summary, "ratios": compared,
                               "scale_out": plan, "serve_launch_s": serve, "runs": runs},
                              ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", action="store_true",
                   help="bare, bot on SQLite, bot on PostgreSQL, interleaved, ≥ 3 rounds, 1 and 32 connections")
    p.add_argument("--cases", help=f"comma-separated subset of {', '.join(CASES)}")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, the same for every case (2)")
    p.add_argument("--connections", "-c", type=int, default=32, help="concurrent wrk connections (32)")
    p.add_argument("--single", action="store_true", help="also measure with 1 connection (on with --compare)")
    p.add_argument("--threads", "-t", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--duration", "-d", type=float, default=8.0, help="measured seconds per run (8)")
    p.add_argument("--warmup", type=float, default=6.0, help="warm-up seconds, at least (6)")
    p.add_argument("--max-warmup", type=float, default=24.0, help="warm-up seconds, at most (24)")
    p.add_argument("--rounds", type=int, default=1, help="rounds of all cases, interleaved (1; 3 with --compare)")
    p.add_argument("--samples", type=int, default=16, help="replies checked with Python per case (16)")
    p.add_argument("--openids", type=int, default=500, help="distinct worker OpenIDs (500)")
    p.add_argument("--min-requests", type=int, default=20000, help="pre-built distinct requests per run, at least")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--wrk", help="path to wrk (default: from PATH)")
    p.add_argument("--json", default=str(RESULTS), help="results file")
    p.add_argument("--keep-temp", action="store_true", help="keep databases, request files and server logs")
    p.add_argument("--database-url", default="", help="PostgreSQL server for the bot-postgres cases "
                   "(default: TEST_POSTGRES_URL, else a throw-away server from scripts/with-postgres.sh)")
    p.add_argument("--profile", type=int, metavar="N", help="instead of the load test: profile N messages in-process")
    p.add_argument("--profile-mode", choices=("plain", "safe"), default="plain")
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--profile-out", help="also dump the raw cProfile stats here")
    args = p.parse_args(argv)
    if args.compare:
        args.rounds, args.single = max(args.rounds, 3), True
    if args.workers < 1 or args.connections < 1 or not 1 <= args.rounds <= 9 or args.duration <= 0:
        p.error("workers and connections ≥ 1, rounds 1–9, duration > 0")

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, terminate)
    try:
        if args.profile:
            from profiling import profile

            return profile(args)
        return bench(args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
