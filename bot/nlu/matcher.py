"""Free-text router: a worker's message → FAQ answer, flow, small talk, clarify or fallback.

Pipeline (the same for FAQ examples at start-up and for messages at run time):
normalise (width, script, case, fillers) → pinyin typo correction → synonym expansion →
jieba words + character bigrams → TF-IDF logistic regression over every target plus a
"fallback" class trained on faq/out_of_scope.yaml, blended with BM25 over each target's
examples, keywords and title. Exact menu words and flow phrases bypass the model.

Routing a message does each step once: the segmentation made for typo correction is reused for
the words (bot/nlu/segment.py is jieba's algorithm, faster), and features are looked up in
tables built with the index rather than spelled out as strings (see _build_feature_tables).

The index is built once per process on first use (thread-safe) and rebuilt only when the FAQ
files change on disk.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from bot import faq, vocabulary
from bot.nlu.normalise import normalise
from bot.nlu.segment import Segmenter
from bot.nlu.typo import TypoCorrector

log = logging.getLogger(__name__)

FALLBACK, CLARIFY, MENU = "fallback", "clarify", "menu"
NOVEL = "x:novel"
SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")

# Whole-message phrases that never go through the model: the fixed vocabulary
# (faq/vocabulary.yaml: commands such as 菜单 and 转人工, shortcuts such as 我要入会), plus flow
# titles and keywords from faq/flows.yaml and small-talk keywords, added at index build time.

# Decision thresholds on the blended score (see _decide). Chosen by cross-validation on the
# FAQ examples and out-of-scope examples (bench/routing.py --calibrate), not on eval data.
ANSWER_MIN = 0.25       # top score needed to answer outright
ANSWER_MARGIN = 0.05    # … and its lead over the runner-up
CLARIFY_MIN = 0.25      # below this nothing is offered: fallback
FALLBACK_WINS = 0.30    # fallback class probability that rejects outright
IN_SCOPE_PF = 0.10      # fallback this unlikely: a spread-out top score still earns a clarify
CLARIFY_SPREAD = 0.10   # … if it reaches this
OOV_RATIO = 0.6         # share of the message's words never seen in any in-scope example …
OOV_ANSWER_MIN = 0.6    # … at or above which the top score must reach this, else fallback
BM25_WEIGHT = 0.2
# A message that is one bare word used across many topics (工资, 假期, 公司, 老板) is not
# answered with whichever topic happens to score highest: the bot asks back. "Broad" means the
# word occurs in the examples and keywords of at least BROAD_MIN_TARGETS targets and no target
# holds BROAD_TOP_SHARE of its occurrences. Unique keywords (会费, 加班费) are exact phrases and
# never reach this rule.
BROAD_MIN_TARGETS = 3
BROAD_TOP_SHARE = 0.5
BROAD_MAX_CHARS = 4

_STOPWORDS = set("的 了 吗 么 呢 吧 啊 呀 是 我 你 他 她 它 们 我们 你们 在 有 和 与 就 都 也 还 要 会 "
                 "能 可以 这 那 这个 那个 一个 个 怎么 怎么办 什么 啥 咋 如何 多少 几 请问 请 问 "
                 "一下 吗 嘛 哦 呗 给 被 把 让 对 不 没 没有 说 想 到 去 得 着 过 又 很 太 才 "
                 "现在 今天 如果 但是 可是 因为 所以 还是 或者 已经 就是 然后 自己 及 或 等 "
                 "a an the is are to of for in on and or my i me you it do does can what how".split())


@dataclass(frozen=True)
class Route:
    """A routing decision.

    target: an FAQ id, a flow.* or smalltalk.* id, "menu", "clarify" or "fallback".
    decision: "answer" (target is an FAQ, flow, small-talk or menu id), "clarify" (ask back
    with `candidates`) or "fallback".
    """
    target: str
    score: float
    candidates: list[tuple[str, float]] = field(default_factory=list)
    decision: str = "answer"


def _load_synonyms() -> dict[str, list[str]]:
    data = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8")) or {}
    return {str(k).lower(): [str(v).lower() for v in vs] for k, vs in data.items()}


_LATIN = re.compile(r"[a-z0-9+\-' ]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD_CHAR = re.compile(r"[\w\u4e00-\u9fff]")


class Index:
    """Everything the router needs, built from one FAQ catalogue."""

    # training: weight of each kind of text, and the optimiser
    EXAMPLE_W, KEYWORD_W, TITLE_W, OUT_OF_SCOPE_W = 1.0, 0.6, 0.8, 1.0
    L2, EPOCHS, LR = 1e-5, 100, 0.12
    BM25_WEIGHT = BM25_WEIGHT
    CHAR_NGRAMS = (1, 2)
    NOVELTY = True

    def __init__(self, cat: faq.Catalogue):
        import jieba

        from bot.nlu.classifier import SoftmaxRegression, Vectoriser
        from rank_bm25 import BM25Okapi

        started = time.perf_counter()
        self.version = cat.version
        self.entries = cat.entries
        jieba.setLogLevel(logging.WARNING)
        self.tok = jieba.Tokenizer()
        self.tok.initialize()
        if cat.userdict:
            with open(cat.userdict, "rb") as f:  # given a path, jieba leaves the file open
                self.tok.load_userdict(f)
        self.seg = Segmenter(self.tok)             # == tok.lcut(text, HMM=False), faster
        self.synonyms = _load_synonyms()
        self._build_synonym_matchers()
        for term in self._domain_terms(cat):
            if len(term) >= 2 and _HAN.search(term) and not self.tok.FREQ.get(term):
                self.tok.add_word(term, freq=2000)
        self.typos = TypoCorrector(self._typo_terms(cat), is_word=self._is_common_word,
                                   segment=self.seg.cut)
        self.known_terms = self._domain_terms(cat)
        self.exact = self._exact_phrases(cat)
        self.whole_synonym = {normalise(v): c for c, vs in self.synonyms.items() for v in vs
                              if normalise(v) not in self.exact}
        self.openers = self._smalltalk_words(cat)

        feats_of: dict[str, list[str]] = {}

        def featurise(text: str) -> list[str]:
            if text not in feats_of:
                feats_of[text] = self.features(text)
            return feats_of[text]

        docs, labels, weights = [], [], []
        for e in cat.entries.values():
            for text, weight in ([(x, self.EXAMPLE_W) for x in e.examples]
                                 + [(k, self.KEYWORD_W) for k in e.keywords]
                                 + [(e.title, self.TITLE_W)]):
                docs.append(featurise(text))
                labels.append(e.id)
                weights.append(weight)
        for text in cat.out_of_scope:
            docs.append(featurise(text))
            labels.append(FALLBACK)
            weights.append(self.OUT_OF_SCOPE_W)
        # How many in-scope texts use each word; a word no other in-scope text uses is "novel"
        # (leave-one-out for the in-scope texts themselves), so the model learns from both
        # sides how much an unfamiliar word (螃蟹 in 怀孕能吃螃蟹吗, 献血 in 献血志愿者) says
        # that a message is about something else.
        self.word_df: dict[str, int] = {}
        for d, lab in zip(docs, labels):
            if lab != FALLBACK:
                for f in {f for f in d if f.startswith("w:")}:
                    self.word_df[f] = self.word_df.get(f, 0) + 1
        docs = [d + self._novelty(d, own=lab != FALLBACK) if self.NOVELTY else d
                for d, lab in zip(docs, labels)]
        self.vec = Vectoriser(docs)
        self.classes = list(cat.entries) + [FALLBACK]
        rows = [self.vec.transform(d) for d in docs]
        self.model = SoftmaxRegression(len(self.vec), self.classes, l2=self.L2).fit(
            rows, labels, sample_weight=weights, epochs=self.EPOCHS, lr=self.LR)
        self.in_scope_vocab = {f for d, lab in zip(docs, labels) if lab != FALLBACK for f in d}
        self.word_spread = self._word_spread(cat, featurise)

        self.bm25_targets = list(cat.entries)
        corpus = []
        for e in cat.entries.values():
            words = []
            for text in (*e.examples, *e.keywords, e.title):
                words += [f for f in featurise(text) if f.startswith("w:")]
            corpus.append(words)
        bm25 = BM25Okapi(corpus)
        # rank-bm25 scores one query by looping over documents in Python; with a fixed corpus
        # the per-term contribution to every document can be tabulated once instead: one row
        # of bm25_matrix per term, bm25_rows[term] its row.
        terms = sorted({w for doc in corpus for w in doc})
        self.bm25_rows = {term: i for i, term in enumerate(terms)}
        rows = []
        for term in terms:
            tf = np.array([d.get(term, 0) for d in bm25.doc_freqs], dtype=np.float64)
            norm = bm25.k1 * (1 - bm25.b + bm25.b * np.asarray(bm25.doc_len) / bm25.avgdl)
            rows.append(bm25.idf.get(term, 0.0) * tf * (bm25.k1 + 1) / (tf + norm))
        self.bm25_matrix = np.array(rows, dtype=np.float64).reshape(len(terms), len(corpus))
        self._build_feature_tables()
        self.build_seconds = time.perf_counter() - started

    def _build_feature_tables(self) -> None:
        """Per-message scoring looks each feature up once, by its vectoriser column, in a table
        keyed by the feature's text without its kind prefix (no "w:…"/"c2:…" strings are built
        per message): kind ("w:", "s:", "c1:", …) → {text: column}. What else scoring needs
        is by column: the BM25 row of a "w:" feature, and the columns that are in-scope
        evidence (a feature other than x:novel that some in-scope text has). Every BM25 term
        and in-scope feature has a column: both come from the texts the vectoriser saw."""
        self._tables: dict[str, dict[str, int]] = {}
        self._bm25_row_of: list[int | None] = [None] * len(self.vec)      # by column
        for f, column in self.vec.index.items():
            kind, _, text = f.partition(":")
            self._tables.setdefault(kind + ":", {})[text] = column
            self._bm25_row_of[column] = self.bm25_rows.get(f)
        self._evidence = frozenset(self.vec.index[f] for f in self.in_scope_vocab if f != NOVEL)
        self._novel_column = self.vec.index.get(NOVEL)
        self._word_df = {f[2:]: n for f, n in self.word_df.items()}    # word_df without "w:"

    # ------------------------------------------------------------------ vocabulary

    def _domain_terms(self, cat: faq.Catalogue) -> set[str]:
        terms = set()
        for canon, variants in self.synonyms.items():
            terms.add(canon)
            terms.update(v for v in variants if _HAN.search(v))
        for e in cat.entries.values():
            terms.update(k.lower() for k in e.keywords)
        if cat.userdict:
            for line in cat.userdict.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    terms.add(line.split()[0])
        return {normalise(t, fillers=False) for t in terms if t}

    def _typo_terms(self, cat: faq.Catalogue) -> dict[str, float]:
        """Terms a sound-alike window may be corrected to, with priorities."""
        terms: dict[str, float] = {}
        for text in cat.out_of_scope:
            for w in self.seg.cut(normalise(text)):
                if len(w) >= 2 and self.tok.FREQ.get(w):
                    terms[w] = 1.0
        for e in cat.entries.values():
            for text in (*e.examples, e.title):
                for w in self.seg.cut(normalise(text)):
                    if len(w) >= 2 and self.tok.FREQ.get(w):
                        terms[w] = max(terms.get(w, 0), 2.0)
        for t in self._domain_terms(cat):
            if " " not in t:
                terms[t] = 3.0
        return terms

    def _is_common_word(self, w: str) -> bool:
        return self.tok.FREQ.get(w, 0) >= 50

    def _build_synonym_matchers(self):
        han, latin = [], []
        for canon, variants in self.synonyms.items():
            for v in variants:
                (han if _HAN.search(v) else latin).append((v, canon))
        han.sort(key=lambda p: -len(p[0]))
        self._han_syn = han
        self._latin_syn = [(re.compile(rf"(?<![a-z]){re.escape(v)}(?![a-z])"), c) for v, c in latin]
        # The same matchers by the variant's first two characters, numbered in the order above
        # (Chinese first): a message is only tested against the variants whose start occurs in
        # it, as a variant whose start does not occur cannot match anyway.
        self._syn_by_start: dict[str, list[tuple[int, str, re.Pattern | None, str]]] = {}
        numbered = [(v, None, c) for v, c in han] + [(v, p, c) for (v, c), (p, _) in
                                                     zip(latin, self._latin_syn)]
        for n, (v, pattern, c) in enumerate(numbered):
            self._syn_by_start.setdefault(v[:2], []).append((n, v, pattern, c))
        self._syn_short = frozenset(k for k in self._syn_by_start if len(k) < 2)   # 券, 7

    def _exact_phrases(self, cat: faq.Catalogue) -> dict[str, str]:
        exact: dict[str, str] = {}
        owners: dict[str, set[str]] = {}
        for e in cat.entries.values():
            if e.id.startswith(faq.FAQ_PREFIXES):
                for k in e.keywords:
                    owners.setdefault(normalise(k), set()).add(e.id)
        for phrase, ids in owners.items():
            if len(ids) == 1 and phrase:
                exact[phrase] = next(iter(ids))
        for e in cat.entries.values():
            if e.id.startswith(("flow.", "smalltalk.")):
                for k in (e.title, *e.keywords):
                    if normalise(k):
                        exact[normalise(k)] = e.id
        for phrase, target in vocabulary.routing_phrases(cat.directory).items():
            if target == MENU or target in cat.known_ids:
                exact[normalise(phrase)] = target
        return exact

    @staticmethod
    def _word_spread(cat: faq.Catalogue, featurise) -> dict[str, tuple[int, float]]:
        """word → (number of FAQ/flow targets using it, share of its uses in the top one)."""
        uses: dict[str, dict[str, int]] = {}
        for e in cat.entries.values():
            if e.id.startswith("smalltalk."):
                continue
            for text in (*e.examples, *e.keywords):
                for f in set(featurise(text)):
                    if f.startswith("w:"):
                        per = uses.setdefault(f[2:], {})
                        per[e.id] = per.get(e.id, 0) + 1
        return {w: (len(per), max(per.values()) / sum(per.values())) for w, per in uses.items()}

    def is_broad_word(self, corrected: str, words: list[str] | None = None) -> bool:
        """The message is one bare word that many targets share (工资, 假期, 公司).
        `words` is `self.words(corrected)` when the caller has it already."""
        words = self.words(corrected) if words is None else words
        if len(words) != 1 or len(words[0]) > BROAD_MAX_CHARS or len(corrected.replace(" ", "")) > 6:
            return False
        n, top = self.word_spread.get(words[0], (0, 1.0))
        return n >= BROAD_MIN_TARGETS and top < BROAD_TOP_SHARE

    def _smalltalk_words(self, cat: faq.Catalogue) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(greetings that may open a question, thanks that may close one)."""
        sets = {"greeting": {"你好", *self.synonyms.get("你好", [])},
                "thanks": {"谢谢", *self.synonyms.get("谢谢", [])}}
        for kind, words in sets.items():
            if f"smalltalk.{kind}" in cat.entries:
                words.update(normalise(k) for k in cat.entries[f"smalltalk.{kind}"].keywords)
        return tuple(tuple(sorted((w for w in sets[k] if w), key=len, reverse=True))
                     for k in ("greeting", "thanks"))

    def _synonyms_in(self, corrected: str) -> list[str]:
        """The canonical term of every synonym variant in the text, in `_han_syn` then
        `_latin_syn` order (Chinese variants anywhere, Latin ones as whole words)."""
        by_start = self._syn_by_start
        starts = {corrected[i:i + 2] for i in range(len(corrected) - 1)}
        starts |= self._syn_short.intersection(corrected)
        starts.add("")
        hits = [h for s in starts if s in by_start for h in by_start[s]]
        hits.sort()
        latin = None
        out = []
        for _, variant, pattern, canon in hits:
            if pattern is None:
                if variant in corrected:
                    out.append(canon)
            else:
                if latin is None:
                    latin = bool(_LATIN.search(corrected))
                if latin and pattern.search(corrected):
                    out.append(canon)
        return out

    # ------------------------------------------------------------------ features

    def prepare(self, text: str, segments: dict[str, list[str]] | None = None
                ) -> tuple[str, list[str]]:
        """(normalised + corrected text, extra terms from typos and synonyms).
        `segments`: see `words`."""
        norm = normalise(text)
        corrected, extras = self.typos.correct(norm, segments)
        extras += self._synonyms_in(corrected)
        return corrected, extras

    def words(self, corrected: str, segments: dict[str, list[str]] | None = None) -> list[str]:
        """The corrected text's words, without stop words. `segments` holds segmentations the
        typo corrector already made of this message ({text: self.seg.cut(text)}), so a chunk
        it segmented is not segmented again."""
        segments = segments or {}
        return [w for chunk in corrected.split()
                for w in (segments.get(chunk) or self.seg.cut(chunk))
                if w.strip() and w not in _STOPWORDS]

    def unseen_share(self, corrected: str, words: list[str] | None = None) -> float:
        """Share of the message's words (2+ characters) that no in-scope example, keyword or
        synonym uses. `words` is `self.words(corrected)` when the caller has it already."""
        words = [w for w in (self.words(corrected) if words is None else words) if len(w) >= 2]
        if not words:
            return 0.0
        return sum(1 for w in words if "w:" + w not in self.in_scope_vocab
                   and w not in self.known_terms) / len(words)

    def _novelty(self, feats: list[str], own: bool = False) -> list[str]:
        """One "x:novel" feature per word of the text (not synonym additions) that no (other)
        in-scope text uses."""
        seen = {"w:" + f[2:] for f in feats if f.startswith("s:")}
        out = []
        for f in feats:
            if f.startswith("w:") and f not in seen:
                seen.add(f)
                if self.word_df.get(f, 0) - own <= 0:
                    out.append(NOVEL)
        return out

    def features(self, text: str, prepared=None, words: list[str] | None = None) -> list[str]:
        corrected, extras = prepared or self.prepare(text)
        feats = ["w:" + w for w in (self.words(corrected) if words is None else words)]
        for part in _HAN_RUN.findall(corrected):
            for n in self.CHAR_NGRAMS:
                prefix = f"c{n}:"
                feats += [prefix + part[i:i + n] for i in range(len(part) - n + 1)]
        for term in extras:
            feats.append("w:" + term)
            feats.append("s:" + term)
        return feats

    # ------------------------------------------------------------------ routing

    def _strip_openers(self, norm: str) -> str:
        """Drop a leading greeting / trailing thanks when a real question remains."""
        greetings, thanks = self.openers
        if not (norm.startswith(greetings) or norm.endswith(thanks)):
            return norm                        # the usual case: nothing to strip
        text, changed = norm, True
        while changed:
            changed = False
            for w in greetings:
                if text.startswith(w):
                    rest = text[len(w):].strip()
                    if len(_HAN.findall(rest)) >= 5:
                        text, changed = rest, True
            for w in thanks:
                if text.endswith(w):
                    rest = text[:-len(w)].strip()
                    if len(_HAN.findall(rest)) >= 5:
                        text, changed = rest, True
        return text

    def scores(self, text: str) -> tuple[dict[str, float], float, list[str]]:
        """(blended score per target, fallback probability, features)."""
        prepared = self.prepare(text)
        words = self.words(prepared[0])
        feats = self.features(text, prepared, words)
        if self.NOVELTY:
            feats = feats + self._novelty(feats)
        blended, p_fallback, _ = self._scores(prepared, words)
        return dict(zip(self.bm25_targets, blended.tolist())), p_fallback, feats

    def _lookup(self, prepared: tuple[str, list[str]], words: list[str]
                ) -> tuple[dict[int, int], list[int], bool]:
        """The message's features as scoring needs them: ({vectoriser column: count} in order
        of first occurrence, the BM25 rows of its "w:" features in order, whether any is
        in-scope evidence). The same as reading `features()` + `_novelty()` feature by feature
        (`vec.transform` counts exactly so), through `_tables` instead of feature strings."""
        corrected, extras = prepared
        tables = self._tables
        w_table, s_table = tables.get("w:", {}), tables.get("s:", {})
        w_columns = list(map(w_table.get, words))        # columns, None: not in the vocabulary
        columns = list(w_columns)
        for part in _HAN_RUN.findall(corrected):
            for n in self.CHAR_NGRAMS:
                grams = part if n == 1 else [part[i:i + n] for i in range(len(part) - n + 1)]
                columns += map(tables.get(f"c{n}:", {}).get, grams)
        for term in extras:
            w = w_table.get(term)
            w_columns.append(w)
            columns += (w, s_table.get(term))
        if self.NOVELTY:                               # _novelty, on the words themselves
            seen = set(extras)
            for w in words:
                if w not in seen:
                    seen.add(w)
                    if self._word_df.get(w, 0) <= 0:
                        columns.append(self._novel_column)
        counts = Counter(columns)                      # insertion order: first occurrence
        counts.pop(None, None)
        rows = self._bm25_row_of                       # BM25 rows: "w:" features only
        known = [r for r in (rows[c] for c in w_columns if c is not None) if r is not None]
        return counts, known, not self._evidence.isdisjoint(counts)

    def _scores(self, prepared: tuple[str, list[str]], words: list[str]
                ) -> tuple[np.ndarray, float, bool]:
        """`scores` on a prepared text and its words, with whether any feature is in-scope
        evidence instead of the features; the blended scores as an array in `bm25_targets`
        order (the model's classes without the last, FALLBACK)."""
        counts, known, evidence = self._lookup(prepared, words)
        p = self.model.proba(self.vec.weigh(counts))
        p_fallback = float(p[-1])
        blended = p[:-1].astype(np.float64)
        if known and self.BM25_WEIGHT:
            bm = self.bm25_matrix[known].sum(axis=0)
            top = float(bm.max())
            if top > 0:
                bm = bm / (top + 5.0)          # damped: a few shared words are weak evidence
                blended = ((1 - self.BM25_WEIGHT) * blended
                           + self.BM25_WEIGHT * bm * (1 - p_fallback))
        return blended, p_fallback, evidence

    def route(self, text: str) -> Route:
        norm = normalise(text or "")
        if not _WORD_CHAR.search(norm):
            return Route(FALLBACK, 1.0, [], "fallback")
        segments: dict[str, list[str]] = {}      # this message's segmentations, made once
        for form in (norm, self.typos.correct(norm, segments)[0]):
            form = self.whole_synonym.get(form, form)      # 蟹蟹 → 谢谢, thx → 谢谢
            target = self.exact.get(form) or self.exact.get(form.replace(" ", ""))
            if target:
                return Route(target, 1.0, [(target, 1.0)], "answer")
        question = self._strip_openers(norm)
        prepared = self.prepare(question, segments)
        corrected = prepared[0]
        words = self.words(corrected, segments)
        blended, p_fallback, evidence = self._scores(prepared, words)
        # the top three, best first; a stable sort, so ties keep target order
        scores = blended.tolist()
        top = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:3]
        ranked = [(self.bm25_targets[i], scores[i]) for i in top]
        candidates = [(t, round(s, 4)) for t, s in ranked]
        if not evidence:
            return Route(FALLBACK, round(p_fallback, 4), candidates, "fallback")
        if self.is_broad_word(corrected, words):
            options = [(t, s) for t, s in candidates if s >= 0.02]
            if len(options) >= 2:
                return Route(CLARIFY, round(ranked[0][1], 4), options, "clarify")
        unseen = self.unseen_share(corrected, words)
        return _decide(ranked, p_fallback, candidates, unseen)


def _decide(ranked, p_fallback, candidates, unseen: float = 0.0) -> Route:
    """Answer, clarify or fall back on the blended scores (thresholds: see the constants).

    `ranked` is (target, score) best first; only the top two are read.

    `unseen` is the share of the message's words that no in-scope example uses: a message
    about something else (医保卡, 租房合同, 航班补偿) that shares one word with a topic has
    many of them, so it needs a clearly winning topic before it is answered.
    """
    (t1, s1), (t2, s2) = ranked[0], ranked[1]
    if p_fallback >= FALLBACK_WINS and p_fallback > s1:
        return Route(FALLBACK, round(p_fallback, 4), candidates, "fallback")
    if unseen >= OOV_RATIO and s1 < OOV_ANSWER_MIN:
        return Route(FALLBACK, round(max(p_fallback, 1 - s1), 4), candidates, "fallback")
    if s1 >= ANSWER_MIN and s1 - s2 >= ANSWER_MARGIN:
        return Route(t1, round(s1, 4), candidates, "answer")
    if s1 >= CLARIFY_MIN or (p_fallback <= IN_SCOPE_PF and s1 >= CLARIFY_SPREAD):
        options = [(t, s) for t, s in candidates if s >= s1 / 3]
        if len(options) == 1:
            return Route(t1, round(s1, 4), candidates, "answer")
        return Route(CLARIFY, round(s1, 4), options, "clarify")
    return Route(FALLBACK, round(max(p_fallback, 1 - s1), 4), candidates, "fallback")


# ---------------------------------------------------------------------- per-process singleton

_lock = threading.Lock()
_index: Index | None = None


_checked = 0.0
RELOAD_CHECK_SECONDS = 2.0     # how often routing looks at the FAQ files' mtimes


def get_index() -> Index:
    """The process-wide index; built on first use, rebuilt when the FAQ files change."""
    global _index, _checked
    idx = _index
    if idx is not None and time.monotonic() - _checked < RELOAD_CHECK_SECONDS:
        return idx
    cat = faq.catalogue()
    with _lock:
        if _index is None or _index.version != cat.version:
            _index = Index(cat)
        _checked = time.monotonic()
        return _index


def route(text: str) -> Route:
    return get_index().route(text)
