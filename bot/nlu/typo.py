"""Pinyin typo tolerance: 公资 → 工资, 家班费 → 加班费, 社宝 → 社保, 试用其 → 试用期.

Workers type with pinyin input methods, so the usual mistake is a homophone. A window of the
message that is not a known term but sounds like one (tones ignored, z/zh, c/ch, s/sh, n/l and
-n/-ng not distinguished) is taken to be that term. When the window is itself a common word
(工商, 调节, 公会) the known term is added next to it instead of replacing it, and the model
decides from the rest of the message.

The known terms' readings are kept in a syllable trie, so the windows of a message are matched in
one walk per start; windows that would cut a common word are never looked up.

pypinyin (0.4 s to import, most of it its phrase dictionary) is used only while an index is
built: the corrector keeps the readings of every character that can take part in a match, so a
saved index loads, and a message is corrected, without importing it.
"""
from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_HAN_CHARS = range(0x4E00, 0x9FFF + 1)  # the characters _HAN_RUN matches: the only ones looked up
MAX_LEN, MIN_LEN = 5, 2
MAX_READINGS = 8                      # heteronym combinations tried per window
DOMAIN_PRIORITY = 3.0                 # priority of the lexicon's own terms (see Lexicon._typo_terms)
_TERM = None                          # trie key of the term a syllable path spells


@lru_cache(maxsize=None)
def _fuzzy(syllable: str) -> str:
    s = syllable
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(a):
            s = b + s[2:]
    if s.startswith("l"):
        s = "n" + s[1:]
    if s.endswith("ng"):
        s = s[:-1]
    return s


@lru_cache(maxsize=None)  # about 21,000 characters, each read by every index build
def readings(char: str) -> tuple[str, ...]:
    """Fuzzy, toneless readings of one character (several for heteronyms like 调, 和)."""
    from pypinyin import Style, pinyin  # only while an index is built (module docstring)

    got = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
    if not got or not got[0]:
        return ()
    return tuple(dict.fromkeys(_fuzzy(r) for r in got[0]))[:3]


@lru_cache(maxsize=20000)
def word_key(word: str) -> str:
    """The fuzzy reading of a word as a word: pypinyin's phrase dictionary picks the heteronym
    the word uses (调解 tiao-jie, not diao-jie; 会计 kuai-ji, not hui-ji)."""
    from pypinyin import Style, pinyin  # only while an index is built (module docstring)

    got = pinyin(word, style=Style.NORMAL, errors="ignore")
    return " ".join(_fuzzy(r[0]) for r in got) if len(got) == len(word) else ""


def keys(word: str) -> list[str]:
    per_char = [readings(c) for c in word]
    if not all(per_char):
        return []
    out = []
    for combo in product(*per_char):
        out.append(" ".join(combo))
        if len(out) >= MAX_READINGS:
            break
    return out


class TypoCorrector:
    """Maps sound-alike windows of a message to known domain terms.

    `terms` maps a term to its priority (higher wins when two terms sound alike);
    `is_word(w)` says whether a window is an ordinary word that may be meant as written;
    `segment(run)` (a word segmenter) protects common words: a window may not cut one in two,
    so 和同事 never becomes 合同事.
    """

    def __init__(self, terms: dict[str, float], is_word=lambda w: False, segment=None):
        self.segment = segment
        self._cache: dict[str, tuple[str, tuple[str, ...], dict[str, list[str]]]] = {}
        self.terms = {t for t in terms if MIN_LEN <= len(t) <= MAX_LEN and _HAN_RUN.fullmatch(t)}
        self.is_word = is_word
        self.priority = {t: p for t, p in terms.items() if t in self.terms}
        best: dict[str, tuple[float, str]] = {}
        for term in sorted(self.terms):  # sorted: ties go the same way in every process (not set order)
            # Only one reading of a term, the one the word uses, so 会计 does not become
            # kuai-ji and hui-ji at once.
            for k in [word_key(term) or (keys(term) or [""])[0]]:
                if not k:
                    continue
                if k not in best or terms[term] > best[k][0]:
                    best[k] = (terms[term], term)
        self.index = {k: t for k, (_, t) in best.items()}
        # The same keys as a trie of syllables: {syllable: {syllable: … {_TERM: term}}}.
        self.trie: dict = {}
        for k, t in self.index.items():
            node = self.trie
            for syllable in k.split(" "):
                node = node.setdefault(syllable, {})
            node[_TERM] = t
        # Each character's readings, kept for the characters with a reading the trie knows: a
        # window with any other character spells no term (its walk finds no child for it), so
        # such a character reads as having none and `_matches` finds exactly what it would with
        # all its readings.
        syllables = {s for k in self.index for s in k.split(" ")}
        self.readings = {chr(c): r for c in _HAN_CHARS
                         if not syllables.isdisjoint(r := readings(chr(c)))}

    def _matches(self, run: str, cuts: set[int] | frozenset[int] = frozenset()
                 ) -> dict[tuple[int, int], tuple[str, bool]]:
        """The term each window of the run sounds like, where it outranks the window itself.

        {(i, length): (term, usual)} for the windows run[i:i + length] that have one and that
        neither start nor end at one of `cuts` (`_correct_run` skips those): `term` is the
        first of the window's `keys()` that spells a known term other than the window, if that
        term's priority is higher than the window's own; `usual` says whether that was the
        window's usual reading (the first key) rather than a rare heteronym one.

        One depth-first walk of the trie per start i replaces spelling out each window's
        `keys()`: reading combinations are visited in `itertools.product` order, and a
        combination's place in that order (`rank`, the mixed-radix number of its per-character
        reading indices) only grows with depth, so the walk stops where `keys()` would stop
        (MAX_READINGS) and the first term found for a length is the one `keys()` order finds.
        """
        known = self.readings
        per_char = [known.get(c, ()) for c in run]
        n = len(run)
        found: dict[tuple[int, int], tuple[str, bool]] = {}
        priority = self.priority

        def walk(node: dict, i: int, depth: int, rank: int, last: int) -> None:
            if (i, depth) not in found and i + depth not in cuts:
                term = node.get(_TERM)
                if term is not None:
                    window = run[i:i + depth]
                    if term != window and priority[term] > priority.get(window, 0.0):
                        found[i, depth] = (term, rank == 0)
            if depth == last:
                return
            options = per_char[i + depth]
            for j, syllable in enumerate(options):
                r = rank * len(options) + j
                if r >= MAX_READINGS:
                    break
                child = node.get(syllable)
                if child is not None:
                    walk(child, i, depth + 1, r, last)

        # The first two levels unrolled (MIN_LEN is 2, so no window is shorter): most starts
        # end there, and a function call per trie node visited is the main cost of the walk.
        root = self.trie
        for i in range(n - MIN_LEN + 1):
            if i in cuts:
                continue
            second = per_char[i + 1]
            for j0, s0 in enumerate(per_char[i]):
                if j0 >= MAX_READINGS:
                    break
                node = root.get(s0)
                if node is None:
                    continue
                for j1, s1 in enumerate(second):
                    rank = j0 * len(second) + j1
                    if rank >= MAX_READINGS:
                        break
                    child = node.get(s1)
                    if child is not None:
                        walk(child, i, MIN_LEN, rank, min(MAX_LEN, n - i))
        return found

    def _usual_reading_match_inside(self, found: dict, run: str, start: int, end: int,
                                    cuts: set[int]) -> bool:
        """Whether a window starting in run[start:end] sounds like a term on its usual reading
        (不给家班费: 家班费 → 加班费 on jia, so 不给家 must not become 不给结 on the rare jie).
        `found` is `_matches(run)`."""
        for j in range(start, end):
            for length in range(min(MAX_LEN, len(run) - j), MIN_LEN - 1, -1):
                window = run[j:j + length]
                if j in cuts or (j + length) in cuts or window in self.terms:
                    continue
                hit = found.get((j, length))
                if hit and hit[1]:
                    return True
        return False

    def correct(self, text: str, segments: dict[str, list[str]] | None = None
                ) -> tuple[str, list[str]]:
        """(text with confident corrections applied, extra terms for ambiguous ones).

        `segments`, if given, receives {run: segment(run)} for each run this call segmented,
        so the caller can reuse them (also when the text's correction is remembered)."""
        cached = self._cache.get(text)
        if cached is None:
            cut: dict[str, list[str]] = {}
            corrected, extras = self._correct(text, cut)
            cached = (corrected, extras, cut)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[text] = cached
        if segments is not None:
            segments.update(cached[2])
        return cached[0], list(cached[1])

    def clear_cache(self) -> None:
        self._cache.clear()

    def _correct(self, text: str, segments: dict | None = None) -> tuple[str, tuple[str, ...]]:
        extras: list[str] = []
        out = []
        pos = 0
        for run in _HAN_RUN.finditer(text):
            out.append(text[pos:run.start()])
            out.append(self._correct_run(run.group(), extras, segments))
            pos = run.end()
        out.append(text[pos:])
        return "".join(out), tuple(extras)

    def _inner_cuts(self, run: str, segments: dict | None = None) -> set[int]:
        """Positions strictly inside a common word of the run."""
        cuts, pos = set(), 0
        tokens = self.segment(run) if self.segment else ()
        if segments is not None and self.segment:
            segments[run] = tokens
        for token in tokens:
            if len(token) >= 2 and self.is_word(token):
                cuts.update(range(pos + 1, pos + len(token)))
            pos += len(token)
        return cuts

    def _correct_run(self, run: str, extras: list[str], segments: dict | None = None) -> str:
        if len(run) < MIN_LEN:
            return run                         # no window: the loop below would copy it
        cuts = self._inner_cuts(run, segments)
        matches = self._matches(run, cuts)
        if not matches:
            # No usable window sounds like a term that outranks it: the loop below would copy
            # the run unchanged and add no extras.
            return run
        i, out = 0, []
        n = len(run)
        while i < n:
            done = False
            for length in range(min(MAX_LEN, n - i), MIN_LEN - 1, -1):
                window = run[i:i + length]
                if i in cuts or (i + length) in cuts:
                    continue
                found = matches.get((i, length))
                if found is None:
                    # nothing to correct or add: only a known term is taken whole
                    if window in self.terms:
                        out.append(window)
                        i += length
                        done = True
                        break
                    continue
                term = found[0]
                if (not found[1] and not (window in self.terms or self.is_word(window))
                        and self._usual_reading_match_inside(matches, run, i + 1, i + length,
                                                             cuts)):
                    term = None
                if window in self.terms or self.is_word(window):
                    # a real word: keep it, and offer the domain term it sounds like as well
                    # (公会 → also 工会, 工商 → also 工伤)
                    if term:
                        extras.append(term)
                    if window in self.terms:
                        out.append(window)
                        i += length
                        done = True
                        break
                    continue
                if term and not found[1]:
                    # only a rare reading of the window spells the term (有啥 on 有's rare wei
                    # is not 为啥): too weak to rewrite the text, a domain term is offered beside it
                    if self.priority[term] >= DOMAIN_PRIORITY:
                        extras.append(term)
                    continue
                if term:
                    out.append(term)
                    i += length
                    done = True
                    break
            if not done:
                out.append(run[i])
                i += 1
        return "".join(out)
