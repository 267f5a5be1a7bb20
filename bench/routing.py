"""Routing benchmark: index build and cached start-up, memory, per-message latency, first answer.

    python bench/routing.py [FILE.jsonl ...] [--repeat N] [--calibrate] [--first-answer]

Texts come from ../shared/eval/dev.jsonl and the files under tests/data by default. Printed:
- index build time (from the FAQ files, no cache) and cached start-up (a fresh process loading
  the pickled index from the content cache, imports included), RSS after loading;
- routing latency per message after start-up (p50/p90/p99/max; the typo memo is cleared before
  each message so every timed message is new to the router), and `is_traditional`;
- with --first-answer: a gunicorn started as in production (preload_app) and `flask run` as
  `make run` starts it, each timed from the moment its port accepts connections to the reply to
  the first signed WeChat message (a new worker asking an FAQ question).
--calibrate cross-validates the decision policy (5 folds over the FAQ examples and
faq/out_of_scope.yaml, plus tests/data/probes*.jsonl scored by an index built without them) and
prints the current thresholds' figures next to the best grid settings: how the constants in
bot/nlu/policy.py were chosen. The held-out files are never used for this.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_FILES = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "tests" / "data" / "heldout.jsonl",
                 ROOT / "tests" / "data" / "heldout_v2.jsonl", ROOT / "tests" / "data" / "heldout_v3.jsonl"]
PROBES = [ROOT / "tests" / "data" / "probes.jsonl", ROOT / "tests" / "data" / "probes_v2.jsonl"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def load_items(files: list[Path]) -> list[dict]:
    items = []
    for path in files:
        if path.is_file():
            items += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        else:
            print(f"(skipping {path}: not found)")
    return items


def cached_start(cache: str) -> tuple[float, float]:
    """A fresh interpreter: import the bot and load the cached index (what a restart costs);
    (seconds, RSS in MiB afterwards)."""
    code = ("import time; t = time.perf_counter(); from bot.nlu import get_index, route; "
            "get_index(); route('加班费怎么算'); s = time.perf_counter() - t; "
            "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]; "
            "print(s, int(rss) / 1024)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "CONTENT_CACHE_DIR": cache}, timeout=300, check=True)
    seconds, rss = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(rss)


def bench(files: list[Path], repeat: int) -> None:
    from bot import faq
    from bot.nlu import is_traditional, matcher, store

    before = rss_mib()
    t0 = time.perf_counter()
    cat = faq.load()
    idx = matcher.Index(cat)
    t_build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as cache:
        from bot.reloading import save_snapshot

        os.environ["CONTENT_CACHE_DIR"] = cache
        save_snapshot(Path(cache), f"router-{store.code_version()[:12]}", cat.version, idx)
        save_snapshot(Path(cache), f"faq-{faq.code_version()[:12]}", cat.version, cat)
        starts = [cached_start(cache) for _ in range(3)]
        cached, cached_rss = [s for s, _ in starts], starts[-1][1]
        size = sum(p.stat().st_size for p in Path(cache).glob("*.pickle")) / 2**20
    gc.collect()
    after = rss_mib()
    texts = [it["text"] for it in load_items(files)]
    for text in texts:                      # warm-up pass: pinyin and jieba caches
        idx.route(text)
    latencies, cpu, script = [], [], []
    for _ in range(repeat):
        for text in texts:
            idx.lexicon.typos.clear_cache()
            start, start_cpu = time.perf_counter(), time.thread_time()
            idx.route(text)
            latencies.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            start = time.perf_counter()
            is_traditional(text)
            script.append((time.perf_counter() - start) * 1000)
    print(f"index: {len(cat.entries)} targets, {cat.n_examples} examples, "
          f"{len(cat.out_of_scope)} out-of-scope examples, {len(idx.model)} features")
    print(f"index build {t_build:.2f} s (model and lexicon {idx.build_seconds:.2f} s); cached "
          f"start-up (new process, imports + load + first route) median {statistics.median(cached):.2f} s "
          f"of {', '.join(f'{c:.2f}' for c in cached)}; snapshot files {size:.0f} MiB")
    print(f"memory: a process that loaded the saved index and routed once: RSS {cached_rss:.0f} MiB; "
          f"this one, which also built it: {before:.0f} MiB before, {after:.0f} MiB after")
    print(f"routing: {len(latencies)} calls over {len(texts)} texts: p50 {statistics.median(latencies):.2f} ms, "
          f"p90 {percentile(latencies, 0.90):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms, "
          f"max {max(latencies):.2f} ms")
    print(f"routing CPU time (this thread only, not the time spent waiting for a core on a busy "
          f"machine): p50 {statistics.median(cpu):.2f} ms, p99 {percentile(cpu, 0.99):.2f} ms; "
          f"load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"is_traditional: p50 {statistics.median(script):.3f} ms, p99 {percentile(script, 0.99):.3f} ms")


# ---------------------------------------------------------------------- first answer after start

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signed_text(token: str, text: str) -> tuple[str, bytes]:
    import hashlib

    ts, nonce = str(int(time.time())), "123456"
    sig = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
    body = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[o_first_{ts}]]>"
            f"</FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{int(time.time() * 1000)}</MsgId></xml>")
    return f"/wechat?signature={sig}&timestamp={ts}&nonce={nonce}", body.encode()


def first_answer(argv: list[str], env: dict, port: int, token: str, timeout: float = 180.0) -> tuple[float, str]:
    """Start a server, wait until its port accepts connections, then time one message."""
    import socket
    import urllib.request

    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()[-2000:])
                time.sleep(0.01)
        accepted = time.perf_counter()
        path, body = _signed_text(token, "加班费怎么算")
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": "text/xml"})
        reply = urllib.request.urlopen(req, timeout=30).read().decode()
        return time.perf_counter() - accepted, reply
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def bench_first_answer() -> None:
    venv_bin = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bot.sqlite"
        env = {**os.environ, "DATABASE_URL": db, "WECHAT_TOKEN": "bench-token", "FLASK_APP": "app"}
        subprocess.run([str(venv_bin / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
        for label, argv in [
            ("gunicorn (2 workers, preload)", [str(venv_bin / "gunicorn"), "-w", "2", "-b", "127.0.0.1:{port}", "app:create_app()"]),
            ("flask run (make run)", [str(venv_bin / "flask"), "run", "--host", "127.0.0.1", "--port", "{port}"]),
        ]:
            port = _free_port()
            seconds, reply = first_answer([a.format(port=port) for a in argv], env, port, "bench-token")
            ok = "加班" in reply
            print(f"first answer, {label}: {seconds * 1000:.0f} ms after the port accepted connections"
                  f"{'' if ok else ' (unexpected reply: ' + reply[:80] + ')'}")


# ---------------------------------------------------------------------- calibration

def _held_out_records(idx, items: list[tuple[str, list[str]]]) -> list[dict]:
    from bot.nlu.normalise import normalise

    records = []
    for text, accept in items:
        norm = normalise(text)
        exact = idx.lexicon.exact_target(norm)
        signals, _ = idx.signals(idx.lexicon.prepare(idx.lexicon.strip_openers(norm)))
        records.append({"accept": accept, "exact": exact, "signals": signals})
    return records


def cross_validate(folds: int = 5) -> list[dict]:
    """Signals of each FAQ / out-of-scope example from an index trained without it, and of the
    probes from the index trained on everything."""
    from bot import faq
    from bot.nlu import matcher

    cat = faq.load()
    records = []
    for fold in range(folds):
        entries, held = {}, []
        for eid, e in cat.entries.items():
            held += [(x, [eid]) for i, x in enumerate(e.examples) if i % folds == fold]
            entries[eid] = e.model_copy(update={"examples": tuple(x for i, x in enumerate(e.examples)
                                                                  if i % folds != fold)})
        held += [(x, ["fallback"]) for i, x in enumerate(cat.out_of_scope) if i % folds == fold]
        oos = tuple(x for i, x in enumerate(cat.out_of_scope) if i % folds != fold)
        idx = matcher.Index(dataclasses.replace(cat, entries=entries, out_of_scope=oos, version=f"cv{fold}"))
        records += _held_out_records(idx, held)
        print(f"  fold {fold + 1}/{folds} done", file=sys.stderr)
    idx = matcher.Index(cat)
    probes = [(it["text"], it["accept"]) for it in load_items(PROBES)]
    for rec in _held_out_records(idx, probes):
        records.append({**rec, "probe": True})
    return records


def credit(rec: dict) -> tuple[str, float]:
    from bot.nlu import policy

    route = policy.Route(rec["exact"], 1.0) if rec["exact"] else policy.decide(rec["signals"])
    kind = "oos" if rec["accept"] == ["fallback"] else "in"
    if kind == "oos":
        return kind, float(route.target == "fallback")
    if route.target in rec["accept"]:
        return kind, 1.0
    return kind, 0.5 if route.target == "clarify" and any(t in rec["accept"] for t, _ in route.candidates) else 0.0


def _figures(records: list[dict]) -> dict[str, float]:
    sums: dict[str, list[float]] = {"in": [], "oos": [], "probe_in": [], "probe_oos": []}
    for rec in records:
        kind, c = credit(rec)
        sums[("probe_" if rec.get("probe") else "") + kind].append(c)
    return {k: statistics.mean(v) if v else float("nan") for k, v in sums.items()}


def calibrate() -> None:
    from bot.nlu import policy

    records = cross_validate()
    grid = {"FALLBACK_WINS": [0.3, 0.45, 0.6], "OOV_RATIO": [0.5, 0.6, 0.8],
            "OOV_ANSWER_MIN": [0.4, 0.6], "ELSEWHERE_ANSWER_MIN": [0.25, 0.45],
            "ANSWER_MIN": [0.2, 0.25, 0.3], "ANSWER_MARGIN": [0.0, 0.05, 0.1], "CLARIFY_MIN": [0.15, 0.25],
            "IN_SCOPE_PF": [0.1, 0.2]}
    current = {k: getattr(policy, k) for k in grid}
    base = _figures(records)
    print(f"cross-validation: {sum(not r.get('probe') for r in records)} KB examples, "
          f"{sum(bool(r.get('probe')) for r in records)} probes")
    print(f"current   KB acc {base['in']:.3f} rej {base['oos']:.3f} | probes acc {base['probe_in']:.3f} "
          f"rej {base['probe_oos']:.3f}  {current}")
    results = []
    for values in itertools.product(*grid.values()):
        for k, v in zip(grid, values):
            setattr(policy, k, v)
        f = _figures(records)
        results.append((f["in"] + f["oos"] + 0.5 * (f["probe_in"] + f["probe_oos"]), f, dict(zip(grid, values))))
    for k, v in current.items():
        setattr(policy, k, v)
    results.sort(key=lambda r: -r[0])
    for _, f, t in results[:8]:
        print(f"candidate KB acc {f['in']:.3f} rej {f['oos']:.3f} | probes acc {f['probe_in']:.3f} "
              f"rej {f['probe_oos']:.3f}  {t}")
    calibrate_second()


def calibrate_second() -> None:
    """Two questions: how many two-question probes get both targets, and how many one-question
    texts (knowledge-base examples, other probes) get a spurious `second`, per STATEMENT_GATE."""
    from bot import faq
    from bot.nlu import matcher, policy

    cat = faq.load()
    idx = matcher.Index(cat)
    probes = load_items(PROBES)
    two = [it for it in probes if it.get("style") == "two_questions"]
    one = [x for e in cat.entries.values() for x in e.examples]
    one += [it["text"] for it in probes if it.get("style") != "two_questions"]
    current = policy.STATEMENT_GATE
    for gate in sorted({0.2, 0.3, 0.4, current}):
        policy.STATEMENT_GATE = gate
        both = sum(1 for it in two if {idx.route(it["text"]).target, idx.route(it["text"]).second}
                   <= set(it["accept"]))
        spurious = sum(1 for text in one if idx.route(text).second)
        print(f"STATEMENT_GATE {gate}: two-question probes with both targets {both}/{len(two)}, "
              f"one-question texts with a second {spurious}/{len(one)}"
              f"{'  (current)' if gate == current else ''}")
    policy.STATEMENT_GATE = current


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the texts")
    ap.add_argument("--calibrate", action="store_true", help="cross-validate decision thresholds")
    ap.add_argument("--first-answer", action="store_true", help="time the first message after start-up")
    args = ap.parse_args()
    if args.calibrate:
        calibrate()
    elif args.first_answer:
        bench_first_answer()
    else:
        bench(args.files, args.repeat)


if __name__ == "__main__":
    main()
