"""`flask nlu route` (stdin → JSON lines, the eval contract) and `flask nlu eval FILE`."""
from __future__ import annotations

import importlib.util
import json
import logging
import statistics
import sys
import time

import click
from flask.cli import AppGroup

from bot.faq import PROJECT_DIR

log = logging.getLogger(__name__)
SCORE_PY = PROJECT_DIR.parent / "shared" / "eval" / "score.py"

nlu_cli = AppGroup("nlu", help="Free-text router commands.")


def route_json(text: str) -> dict:
    """One routing result in the shape ../shared/eval/score.py reads."""
    from bot.nlu import route

    r = route(text)
    return {"text": text, "target": r.target, "score": r.score,
            "candidates": [{"target": t, "score": s} for t, s in r.candidates]}


@nlu_cli.command("route")
def route_command():
    """Route each line of stdin; print one JSON object per line, flushed at once."""
    from bot.nlu import get_index

    get_index()                                   # build before the first message arrives
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        text = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
        try:
            result = route_json(text)
        except Exception:                         # one bad line must not end the stream
            log.exception("routing failed for %r", text)
            result = {"text": text, "target": "fallback", "score": 0.0, "candidates": [],
                      "error": "routing failed"}
        out.write(json.dumps(result, ensure_ascii=False).encode("utf-8") + b"\n")
        out.flush()


def _load_score_module():
    """score.py from ../shared/eval when present, so the metrics are the same by construction."""
    if not SCORE_PY.is_file():
        return None
    spec = importlib.util.spec_from_file_location("shared_eval_score", SCORE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _items(path: str) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                obj = json.loads(line)
                text = " ".join(obj["text"].replace("\r", "\n").split("\n")).strip()
                items.append({"line": n, "text": text, "accept": obj["accept"],
                              "style": obj.get("style", "unknown")})
    return items


def _score(items: list[dict], results: list[dict]) -> dict:
    """The formulas of score.py, for deployments without ../shared."""
    ins, oos = [], []
    for it, res in zip(items, results):
        target, accept = res["target"], it["accept"]
        if accept == ["fallback"]:
            oos.append(1.0 if target == "fallback" else 0.0)
        elif target in accept:
            ins.append(1.0)
        elif target == "clarify" and any(c["target"] in accept for c in res["candidates"]):
            ins.append(0.5)
        else:
            ins.append(0.0)
    return {"accuracy": sum(ins) / len(ins) if ins else None,
            "rejection": sum(oos) / len(oos) if oos else None, "per_style": {}}


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


@nlu_cli.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--min-accuracy", type=float, default=0.95, show_default=True)
@click.option("--min-rejection", type=float, default=0.90, show_default=True)
@click.option("--list-misses", is_flag=True, help="Print every item not fully credited.")
def eval_command(file, min_accuracy, min_rejection, list_misses):
    """Score the router on a labelled JSONL file (same metrics as score.py) plus latency."""
    from bot.nlu import get_index

    started = time.perf_counter()
    get_index()
    startup = time.perf_counter() - started
    items = _items(file)
    results, latencies = [], []
    for it in items:
        t0 = time.perf_counter()
        results.append(route_json(it["text"]))
        latencies.append((time.perf_counter() - t0) * 1000)
    module = _load_score_module()
    m = module.score(items, results) if module else _score(items, results)
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    click.echo(f"{file}: {len(items)} items")
    for name, s in m.get("per_style", {}).items():
        click.echo(f"  {name:12s} accuracy {fmt(s['accuracy']):>5s} (n={s['n_in_scope']:3d})   "
                   f"rejection {fmt(s['rejection']):>5s} (n={s['n_out_of_scope']})")
    if list_misses:
        for it, res in zip(items, results):
            ok = res["target"] in it["accept"]
            if not ok:
                cands = ",".join(c["target"] for c in res["candidates"])
                click.echo(f"  MISS line {it['line']} [{it['style']}] {it['text']}\n"
                           f"       accept {'|'.join(it['accept'])} got {res['target']} "
                           f"{res['score']} ({cands})")
    click.echo(f"latency p50 {statistics.median(latencies):.2f} ms, "
               f"p99 {_percentile(latencies, 0.99):.2f} ms; start-up {startup:.2f} s")
    click.echo(f"accuracy {fmt(m['accuracy'])} rejection {fmt(m['rejection'])} n={len(items)}")
    failed = ((m["accuracy"] is not None and m["accuracy"] < min_accuracy)
              or (m["rejection"] is not None and m["rejection"] < min_rejection))
    if failed:
        click.echo(f"BELOW THRESHOLD (min accuracy {min_accuracy}, min rejection {min_rejection})",
                   err=True)
        sys.exit(1)
