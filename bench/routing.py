"""Routing benchmark: start-up time, memory of the loaded index, per-message latency.

    python bench/routing.py [FILE.jsonl ...] [--repeat N] [--stages] [--calibrate]

Texts come from ../shared/eval/dev.jsonl and tests/data/heldout.jsonl by default. Latency is
measured per message after the index is built (the first pass also warms caches and is not
counted; the typo-correction memo is cleared before each message), for `route` and for
`is_traditional` (the other NLU call bot.answers.prepare makes). --stages also prints where a
routing call spends its time, stage by stage (each stage's own time, not its callees'; the
timers add overhead of their own). --calibrate runs 5-fold cross-validation over the FAQ
examples and out-of-scope examples (never the eval files) and prints the threshold settings that
score best, which is how the constants in bot/nlu/matcher.py were chosen.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_FILES = [ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT / "tests" / "data" / "heldout.jsonl"]


def rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def load_texts(files: list[Path]) -> list[str]:
    texts = []
    for path in files:
        if path.is_file():
            texts += [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]
        else:
            print(f"(skipping {path}: not found)")
    return texts


def bench(files: list[Path], repeat: int, stages: bool = False) -> None:
    from bot import faq

    before = rss_mib()
    t0 = time.perf_counter()
    import bot.nlu.matcher as matcher          # imports jieba, numpy, pypinyin, OpenCC
    t_import = time.perf_counter() - t0
    if stages:
        timers = _stage_timers()           # before the index exists, so every caller is timed
    t1 = time.perf_counter()
    cat = faq.catalogue()
    idx = matcher.get_index()
    t_build = time.perf_counter() - t1
    gc.collect()
    after = rss_mib()
    texts = load_texts(files)
    if not texts:
        sys.exit("no texts to route")
    for text in texts:                          # warm-up pass: pinyin and jieba caches
        matcher.route(text)
    from bot.nlu import is_traditional

    if stages:
        timers.clear()
    latencies, script = [], []
    for _ in range(repeat):
        for text in texts:
            idx.typos.clear_cache()             # every timed message is new to the router
            start = time.perf_counter()
            matcher.route(text)
            latencies.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            is_traditional(text)
            script.append((time.perf_counter() - start) * 1000)
    print(f"index: {len(cat.entries)} targets, {cat.n_examples} examples, "
          f"{len(cat.out_of_scope)} out-of-scope examples, {len(idx.vec)} features")
    print(f"start-up: imports {t_import:.2f} s, index build {t_build:.2f} s "
          f"(model {idx.build_seconds:.2f} s)")
    print(f"memory: RSS {before:.0f} MiB before, {after:.0f} MiB after loading "
          f"(+{after - before:.0f} MiB for libraries and index)")
    print(f"routing: {len(latencies)} calls over {len(texts)} texts: "
          f"p50 {statistics.median(latencies):.2f} ms, p90 {percentile(latencies, 0.90):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms")
    print(f"is_traditional: p50 {statistics.median(script):.3f} ms, "
          f"p99 {percentile(script, 0.99):.3f} ms, mean {statistics.mean(script):.3f} ms")
    if stages:
        total = sum(timers.values())
        print(f"stages (own time per routed message; timers included: "
              f"{total / len(latencies) * 1e6:.0f} us in all):")
        for name, seconds in sorted(timers.items(), key=lambda kv: -kv[1]):
            print(f"  {name:44s} {seconds / len(latencies) * 1e6:6.1f} us  "
                  f"{seconds / total * 100:4.1f}%")


def _stage_timers() -> dict[str, float]:
    """Wrap the router's stages with timers that charge each call's time to its stage minus
    the time of the stages it calls; returns {stage: seconds}, filled as messages are routed."""
    from bot.nlu import classifier, matcher, segment, typo

    spent: dict[str, float] = {}
    stack: list[list] = []

    def timed(owner, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            now = time.perf_counter()
            if stack:                                   # pause the caller's stage
                spent[stack[-1][0]] = spent.get(stack[-1][0], 0.0) + now - stack[-1][1]
            stack.append([stage, now])
            try:
                return inner(*args, **kwargs)
            finally:
                end = time.perf_counter()
                spent[stage] = spent.get(stage, 0.0) + end - stack.pop()[1]
                if stack:
                    stack[-1][1] = end                  # resume the caller's stage

        setattr(owner, name, wrapper)

    for owner, name, stage in [
        (matcher, "normalise", "normalise (NFKC, OpenCC, numerals, fillers)"),
        (typo.TypoCorrector, "correct", "typo correction (pinyin)"),
        (segment.Segmenter, "cut", "word segmentation (jieba)"),
        (matcher.Index, "words", "word segmentation (jieba)"),
        (matcher.Index, "prepare", "synonym expansion"),
        (matcher.Index, "_synonyms_in", "synonym expansion"),
        (matcher.Index, "_strip_openers", "greeting / thanks stripping"),
        (matcher.Index, "_lookup", "features (words, char n-grams, novelty)"),
        (classifier.Vectoriser, "weigh", "TF-IDF weights"),
        (classifier.SoftmaxRegression, "proba", "logistic regression"),
        (matcher.Index, "_scores", "BM25 blend"),
        (matcher.Index, "is_broad_word", "decide (broad word, unseen share, thresholds)"),
        (matcher.Index, "unseen_share", "decide (broad word, unseen share, thresholds)"),
        (matcher, "_decide", "decide (broad word, unseen share, thresholds)"),
        (matcher.Index, "route", "route (exact phrases, ranking)"),
    ]:
        timed(owner, name, stage)
    return spent


# ---------------------------------------------------------------------- calibration

def cross_validate(folds: int = 5) -> list[dict]:
    """Score each FAQ / out-of-scope example with an index trained without it."""
    from bot import faq
    from bot.nlu import matcher

    cat = faq.catalogue()
    records = []
    for fold in range(folds):
        entries, held = {}, []
        for eid, e in cat.entries.items():
            held += [(x, eid) for i, x in enumerate(e.examples) if i % folds == fold]
            entries[eid] = dataclasses.replace(
                e, examples=tuple(x for i, x in enumerate(e.examples) if i % folds != fold))
        held += [(x, matcher.FALLBACK) for i, x in enumerate(cat.out_of_scope) if i % folds == fold]
        oos = tuple(x for i, x in enumerate(cat.out_of_scope) if i % folds != fold)
        idx = matcher.Index(dataclasses.replace(cat, entries=entries, out_of_scope=oos,
                                                version=("cv", fold)))
        for text, gold in held:
            norm = matcher.normalise(text)
            blended, pf, feats = idx.scores(idx._strip_openers(norm))
            corrected = idx.prepare(idx._strip_openers(norm))[0]
            unseen = idx.unseen_share(corrected)
            records.append({"gold": gold, "pf": pf, "exact": idx.exact.get(norm), "unseen": unseen,
                            "broad": idx.is_broad_word(corrected),
                            "in_vocab": any(f in idx.in_scope_vocab for f in feats if f != matcher.NOVEL),
                            "ranked": sorted(blended.items(), key=lambda kv: -kv[1])[:3]})
    return records


def credit(rec: dict, t: dict) -> tuple[str, float]:
    if rec["exact"]:
        target, options = rec["exact"], []
    elif not rec["in_vocab"]:
        target, options = "fallback", []
    elif rec.get("broad") and sum(s >= 0.02 for _, s in rec["ranked"]) >= 2:
        target, options = "clarify", [x for x, s in rec["ranked"] if s >= 0.02]
    else:
        (t1, s1), (_, s2) = rec["ranked"][0], rec["ranked"][1]
        options = [x for x, s in rec["ranked"] if s >= s1 / 3]
        if rec["pf"] >= t["FALLBACK_WINS"] and rec["pf"] > s1:
            target = "fallback"
        elif rec["unseen"] >= t["OOV_RATIO"] and s1 < t["OOV_ANSWER_MIN"]:
            target = "fallback"
        elif s1 >= t["ANSWER_MIN"] and s1 - s2 >= t["ANSWER_MARGIN"]:
            target = t1
        elif s1 >= t["CLARIFY_MIN"] or (rec["pf"] <= t["IN_SCOPE_PF"] and s1 >= t["CLARIFY_SPREAD"]):
            target = t1 if len(options) == 1 else "clarify"
        else:
            target = "fallback"
    if rec["gold"] == "fallback":
        return "oos", float(target == "fallback")
    return "in", 1.0 if target == rec["gold"] else 0.5 if target == "clarify" and rec["gold"] in options else 0.0


def calibrate() -> None:
    from bot.nlu import matcher

    records = cross_validate()
    grid = {"ANSWER_MIN": [0.2, 0.25, 0.3, 0.35, 0.4], "ANSWER_MARGIN": [0.0, 0.05, 0.1, 0.15],
            "CLARIFY_MIN": [0.1, 0.15, 0.2, 0.25], "FALLBACK_WINS": [0.25, 0.3, 0.35, 0.4],
            "IN_SCOPE_PF": [0.0, 0.1], "CLARIFY_SPREAD": [0.1],
            "OOV_RATIO": [0.4, 0.5, 0.6, 1.1], "OOV_ANSWER_MIN": [0.4, 0.5, 0.6]}
    results = []
    for values in itertools.product(*grid.values()):
        t = dict(zip(grid, values))
        if t["CLARIFY_MIN"] > t["ANSWER_MIN"]:
            continue
        sums = {"in": [], "oos": []}
        for rec in records:
            kind, c = credit(rec, t)
            sums[kind].append(c)
        acc, rej = statistics.mean(sums["in"]), statistics.mean(sums["oos"])
        results.append((acc + rej, acc, rej, t))
    results.sort(key=lambda r: -r[0])
    current = {k: getattr(matcher, k) for k in grid}
    sums = {"in": [], "oos": []}
    for rec in records:
        kind, c = credit(rec, current)
        sums[kind].append(c)
    print(f"cross-validation over {len(records)} examples")
    print(f"current   accuracy {statistics.mean(sums['in']):.3f} rejection "
          f"{statistics.mean(sums['oos']):.3f}  {current}")
    for total, acc, rej, t in results[:8]:
        print(f"candidate accuracy {acc:.3f} rejection {rej:.3f}  {t}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the texts")
    ap.add_argument("--stages", action="store_true", help="time each stage of routing too")
    ap.add_argument("--calibrate", action="store_true", help="cross-validate decision thresholds")
    args = ap.parse_args()
    if args.calibrate:
        calibrate()
    else:
        bench(args.files, args.repeat, args.stages)


if __name__ == "__main__":
    main()
