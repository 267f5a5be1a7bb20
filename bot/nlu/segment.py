"""Word segmentation for routing: jieba's accurate mode without HMM, in one pass.

`Segmenter(tok).cut(text)` returns exactly what `tok.lcut(text, HMM=False)` returns for a
`jieba.Tokenizer` (jieba 0.42.1): the same blocks, the same dictionary DAG and the same
maximum-probability route, ties included. It exists only for speed: the router segments every
message, and jieba's chain of generators (cut → __cut_DAG_NO_HMM → get_DAG/calc with a DAG dict
and a tuple per edge) costs about twice as much per call. tests/test_nlu.py checks it
against jieba on every FAQ text and on random strings.
"""
from __future__ import annotations

from math import log

# jieba's own patterns, so the blocks are split exactly as jieba.Tokenizer.cut splits them
from jieba import re_eng as _ENG, re_han_default as _BLOCK, re_skip_default as _SKIP


class Segmenter:
    """`cut(text)` == `tok.lcut(text, HMM=False)`, reading the tokenizer's dictionary live."""

    def __init__(self, tok):
        tok.check_initialized()
        self.tok = tok

    def cut(self, sentence: str) -> list[str]:
        out: list[str] = []
        if _BLOCK.fullmatch(sentence):                 # the usual case: one block, no split
            self._cut_block(sentence, out)
            return out
        for blk in _BLOCK.split(sentence):
            if not blk:
                continue
            if _BLOCK.match(blk):
                self._cut_block(blk, out)
            else:
                for x in _SKIP.split(blk):
                    if _SKIP.match(x):
                        out.append(x)
                    else:
                        out.extend(x)                  # one token per character
        return out

    def _cut_block(self, s: str, out: list[str]) -> None:
        """jieba's get_DAG + calc + __cut_DAG_NO_HMM fused: the DAG edges from each position
        are walked right to left as the route is computed, with the same float expressions and
        the same tie-break (max over (score, end) tuples: on equal scores the longer word)."""
        get = self.tok.FREQ.get                        # read live: add_word() changes it
        logtotal = log(self.tok.total)
        n = len(s)
        score = [0.0] * (n + 1)
        end = list(range(n + 1))                       # a single character unless a word wins
        for k in range(n - 1, -1, -1):
            f = get(s[k])
            best = log(f) - logtotal + score[k + 1] if f else None
            if f is not None:                          # s[k] is at least a prefix: longer words
                for i in range(k + 1, n):
                    f = get(s[k:i + 1])
                    if f is None:                      # not even a prefix of a word
                        break
                    if f:
                        v = log(f) - logtotal + score[i + 1]
                        if best is None or v >= best:  # ends grow, so >= keeps the longer one
                            best = v
                            end[k] = i
            if best is None:                           # no word starts here: a single character
                best = log(get(s[k]) or 1) - logtotal + score[k + 1]
            score[k] = best
        x, buf = 0, ""
        while x < n:
            y = end[x] + 1
            word = s[x:y]
            if y - x == 1 and _ENG.match(word):        # runs of single letters/digits are glued
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)
