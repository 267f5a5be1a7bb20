"""The least any process of this stack needs before it can answer a first message, without the bot.

    .venv/bin/python bench/startup_floor.py          # 5 fresh processes per line, medians
    .venv/bin/python bench/startup_floor.py -n 9

Each line is timed in a new Python process (wall clock inside the process, after the interpreter
is up, so what it prints is less than a launch takes):

- the libraries the bot is built on (Flask, Flask-SQLAlchemy, SQLAlchemy, wechatpy, jieba, numpy),
  imported and nothing else;
- jieba's prefix dictionary (about 350,000 words and their prefixes) unpickled from a file, the
  way the bot's saved router index holds it (faster than jieba's own marshal cache): every router
  that cuts Chinese words with jieba needs it in memory;
- both, in one process: the floor under "launch → first answer" for `make run` (issue 14 asks
  ≤ 1 s), before any of the bot's own modules, its FAQ, its database or its HTTP server.

Compare with `bench/webhook.py --compare`, which times the whole launch.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

LIBRARIES = "import flask, flask_sqlalchemy, sqlalchemy, wechatpy, jieba, numpy"
DICTIONARY = "import pickle; pickle.load(open({path!r}, 'rb'))"
TIMED = "import time; _t = time.perf_counter(); {code}; print(time.perf_counter() - _t)"


def one(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    import logging
    import pickle
    import tempfile

    import jieba

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=5, help="fresh processes per line (5)")
    args = p.parse_args(argv)
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        pickle.dump((tokenizer.FREQ, tokenizer.total), f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        dictionary = DICTIONARY.format(path=f.name)
        cases = {"libraries imported (Flask, Flask-SQLAlchemy, SQLAlchemy, wechatpy, jieba, numpy)": LIBRARIES,
                 f"jieba's prefix dictionary unpickled ({len(tokenizer.FREQ):,} entries)": dictionary,
                 "both (the floor before any of the bot's own code)": f"{LIBRARIES}; {dictionary}"}
        print(f"start-up floor, median of {args.n} fresh processes each:")
        run_cases(cases, args.n)
    return 0


def run_cases(cases: dict[str, str], n: int) -> None:
    for label, code in cases.items():
        runs = [one(code) for _ in range(n)]
        print(f"  {label:84} {statistics.median(runs):5.2f} s  (min {min(runs):.2f}, max {max(runs):.2f})")


if __name__ == "__main__":
    sys.exit(main())
