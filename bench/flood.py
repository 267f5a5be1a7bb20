"""One worker floods, another is timed: flood control must keep the calm worker's p99 within 2×.

    .venv/bin/python bench/flood.py                      # 200 msgs/s flood, 3 rounds, ~2 minutes
    .venv/bin/python bench/flood.py --rate 400 --rounds 5

The bot runs on gunicorn (2 sync workers, SQLite, production settings, FLOOD_MESSAGES as
configured). Each round times the calm worker's messages (one at a time, every --gap seconds) for
--seconds without a flood and then for --seconds while another worker sends --rate messages/s
(open loop: at fixed times, whatever the answers). Printed: the calm worker's p50/p99 in both
phases (medians over the rounds) and their ratio (target ≤ 2), how the flooder was answered, and
the server's CPU per flood message (psutil).
"""
from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import migrate  # noqa: E402
from harness import APP_ID, BENCH, TOKEN, Requests, Server, cpu_seconds, log, post  # noqa: E402

TARGET = 2.0


def calm_phase(server: Server, requests: Requests, first_id: int, seconds: float, gap: float) -> list[float]:
    """The calm worker's latencies (ms), one message at a time."""
    latencies, k, end = [], 0, time.monotonic() + seconds
    while time.monotonic() < end:
        built = requests.build(False, first_id + k, openid="o_calm_worker", text="加班费怎么算")
        t0 = time.perf_counter()
        status, _ = post(server.port, built)
        latencies.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"calm worker answered HTTP {status}")
        k += 1
        time.sleep(gap)
    return latencies


def flood(server: Server, requests: Requests, first_id: int, rate: float, stop: threading.Event,
          outcome: dict) -> None:
    """Open loop: a message every 1/rate s, sent by a pool so slow answers do not slow the flood."""
    interval, k, start = 1.0 / rate, 0, time.monotonic()

    def send(n: int) -> None:
        built = requests.build(False, first_id + n, openid="o_flooding_worker", text=f"在吗{n}")
        try:
            status, body = post(server.port, built, timeout=30)
            key = "answered" if status == 200 and body.startswith("<xml>") else \
                "success (logged only)" if status == 200 else f"HTTP {status}"
        except OSError as exc:
            key = type(exc).__name__
        with lock:
            outcome[key] = outcome.get(key, 0) + 1

    lock = threading.Lock()
    with ThreadPoolExecutor(16) as pool:
        while not stop.is_set():
            delay = start + k * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, k)
            k += 1
    outcome["sent"] = k


def q(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * (len(values) - 1)))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200.0, help="the flooding worker's messages per second (200)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each phase (10)")
    p.add_argument("--gap", type=float, default=0.05, help="pause between the calm worker's messages (0.05 s)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--flood-messages", type=int, default=30, help="FLOOD_MESSAGES for the server (30)")
    args = p.parse_args(argv)
    from cryptography.fernet import Fernet

    tmp = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    aes_key = base64.b64encode(os.urandom(32)).decode()[:43]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "FLASK_"))},
           "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_AES_KEY": aes_key, "TIMESTAMP_WINDOW": "3600",
           "ENV": "production", "SECRET_KEY": secrets.token_urlsafe(48), "DATA_KEY": Fernet.generate_key().decode(),
           "UNION_ADDRESS": "bench", "DATABASE_URL": f"sqlite:///{tmp / 'bot.sqlite'}",
           "FLOOD_MESSAGES": str(args.flood_messages), "FLOOD_SECONDS": "60"}
    requests = Requests(aes_key, 10, 1)
    migrate(env)
    server = Server.gunicorn("flood", "app:create_app()", env, args.workers, tmp / "gunicorn.log",
                             config=BENCH / "gunicorn_bench.py")
    rounds = []
    try:
        server.first_answer(requests, 10**15)
        calm_phase(server, requests, 2 * 10**15, 2.0, args.gap)  # warm
        for r in range(args.rounds):
            base = r * 10**13
            quiet = calm_phase(server, requests, 3 * 10**15 + base, args.seconds, args.gap)
            stop, outcome = threading.Event(), {}
            flooder = threading.Thread(target=flood, args=(server, requests, 4 * 10**15 + base, args.rate, stop, outcome))
            cpu0 = cpu_seconds(server.processes())
            flooder.start()
            time.sleep(1.0)  # the flooder is over the limit from here on
            noisy = calm_phase(server, requests, 5 * 10**15 + base, args.seconds, args.gap)
            stop.set()
            flooder.join(timeout=60)
            cpu = cpu_seconds(server.processes()) - cpu0
            rounds.append({"quiet_p50": q(quiet, .5), "quiet_p99": q(quiet, .99), "flood_p50": q(noisy, .5),
                           "flood_p99": q(noisy, .99), "flood": outcome,
                           "cpu_ms_per_msg": 1000 * cpu / max(1, outcome.get("sent", 0) + len(noisy))})
            log(f"[round {r + 1}] calm worker p99 {rounds[-1]['quiet_p99']:.1f} ms alone, "
                f"{rounds[-1]['flood_p99']:.1f} ms during the flood; flooder {outcome}")
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in ("quiet_p50", "quiet_p99", "flood_p50", "flood_p99",
                                                               "cpu_ms_per_msg")}
    ratio = med["flood_p99"] / med["quiet_p99"]
    print(f"calm worker, median of {args.rounds} rounds: p50 {med['quiet_p50']:.1f} → {med['flood_p50']:.1f} ms, "
          f"p99 {med['quiet_p99']:.1f} → {med['flood_p99']:.1f} ms during a {args.rate:.0f} msgs/s flood")
    print(f"p99 with the flood / p99 without = {ratio:.2f} (target ≤ {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    print(f"server CPU per message during the flood: {med['cpu_ms_per_msg']:.2f} ms; flooder, last round: "
          f"{rounds[-1]['flood']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
