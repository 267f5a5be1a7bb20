"""bot/chinese.py: the shortcut that skips OpenCC never changes what OpenCC would give."""
from __future__ import annotations

import random

import opencc
import pytest

from bot.chinese import is_traditional, script, to_simplified, to_traditional


def test_skipping_opencc_gives_exactly_what_opencc_gives():
    convert = opencc.OpenCC("t2s").convert
    rng = random.Random(3)
    samples = ["加班费怎么算", "沈默", "有序", "回覆", "週六", "a\0b", "工资\0", "", "😂", "Ｎ+1"]
    ranges = [(0x20, 0x7e), (0x4e00, 0x9fff), (0x3000, 0x30ff), (0x1f300, 0x1f64f)]
    for _ in range(3000):
        samples.append("".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(1, 12))))
    for text in samples:
        assert to_simplified(text) == convert(text), repr(text)


@pytest.mark.parametrize("text, written", [("週末加班費怎麼算", "traditional"), ("周末加班费怎么算", "simplified"),
                                           ("1", None), ("更多", None), ("OK", None)])
def test_the_script_a_worker_writes_in(text, written):
    assert script(text) == written
    assert is_traditional(text) is (written == "traditional")


def test_traditional_replies_keep_mainland_terms():
    assert to_traditional("视频调解") == "視頻調解"  # s2t, not s2twp (影片調解)
