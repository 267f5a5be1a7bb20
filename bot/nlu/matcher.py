"""Free-text router: a worker's message → FAQ answer, flow, small talk, clarify or fallback.

normalise (bot.nlu.normalise) → exact phrases (the fixed vocabulary, flow and unique keywords)
→ lexicon (typos, synonyms, jieba words) → features → topic model (TF-IDF logistic regression
+ BM25) → decision policy (bot.nlu.policy), which also looks for a second question.

`Index` is built from one FAQ catalogue; bot.nlu.store keeps one per process, builds it before
serving, caches it on disk and rebuilds it off the message path when the content changes.
"""
from __future__ import annotations

import re
import time

from bot.nlu import features as F
from bot.nlu import policy
from bot.nlu.lexicon import HAN, Lexicon
from bot.nlu.model import FALLBACK, TopicModel
from bot.nlu.normalise import normalise
from bot.nlu.policy import CLARIFY, Route

MENU = "menu"
_WORD_CHAR = re.compile(r"[\w\u4e00-\u9fff]")
# training weight of each kind of text
EXAMPLE_W, KEYWORD_W, TITLE_W, OUT_OF_SCOPE_W = 1.0, 0.6, 0.8, 1.0
ELSEWHERE_OOS_W = 0.5


# Issue 15: only this much of a message is routed. Normalising is quadratic in a run of numerals
# (5,000 of them took 1 s); no question needs more (the eval sets' longest has 77 characters).
MAX_ROUTE_CHARS = 500


class Index:
    """Everything the router needs, built from one FAQ catalogue."""

    def __init__(self, cat, model_cls: type[TopicModel] = TopicModel):
        started = time.perf_counter()
        self.version = cat.version
        self.entries = dict(cat.entries)
        self.lexicon = lex = Lexicon(cat)
        texts, labels, weights = [], [], []
        for e in cat.entries.values():
            keywords = (*e.keywords, *lex.vocabulary_phrases(cat, e.id))
            for group, w in ((e.examples, EXAMPLE_W), (keywords, KEYWORD_W), ((e.title,), TITLE_W)):
                texts += group
                labels += [e.id] * len(group)
                weights += [w] * len(group)
        texts += cat.out_of_scope
        labels += [FALLBACK] * len(cat.out_of_scope)
        weights += [OUT_OF_SCOPE_W] * len(cat.out_of_scope)
        prepared = [lex.prepare(normalise(t)) for t in texts]
        # an out-of-scope example placed elsewhere (德国, 宠物 …) teaches mostly that: its topic
        # words (最低工资, 赔) must not learn much towards fallback, or in-scope questions using them suffer
        weights = [w * ELSEWHERE_OOS_W if lab == FALLBACK and p.elsewhere else w
                   for w, p, lab in zip(weights, prepared, labels)]
        in_scope = [p for p, lab in zip(prepared, labels) if lab != FALLBACK]
        self.word_df = F.word_document_frequency(in_scope)
        known = lex.domain_terms
        docs = [F.with_novelty(p, self.word_df, own=lab != FALLBACK, known=known)
                for p, lab in zip(prepared, labels)]
        self.targets = list(cat.entries)
        bm25_docs = [[w for p, lab in zip(prepared, labels) if lab == t for w in (*p.words, *p.extras)]
                     for t in self.targets]
        self.model = model_cls(self.targets).fit(docs, labels, weights, bm25_docs)
        self.in_scope_vocab = frozenset(f for d, lab in zip(docs, labels) if lab != FALLBACK
                                        for f in d if not f.startswith("x:"))
        self.word_spread = self._word_spread(cat, prepared, labels)
        self.build_seconds = time.perf_counter() - started

    @staticmethod
    def _word_spread(cat, prepared, labels) -> dict[str, tuple[int, float]]:
        """word → (number of FAQ/flow targets using it, share of its uses in the top one)."""
        uses: dict[str, dict[str, int]] = {}
        for p, lab in zip(prepared, labels):
            if lab == FALLBACK or lab.startswith("smalltalk."):
                continue
            for w in set(p.words) | set(p.extras):
                per = uses.setdefault(w, {})
                per[lab] = per.get(lab, 0) + 1
        return {w: (len(per), max(per.values()) / sum(per.values())) for w, per in uses.items()}

    # ------------------------------------------------------------------ signals

    def is_broad_word(self, p) -> bool:
        """The message is one bare word that many targets share (工资, 假期, 公司)."""
        if len(p.words) != 1 or len(p.words[0]) > policy.BROAD_MAX_CHARS or \
                len(p.corrected.replace(" ", "")) > 6:
            return False
        n, top = self.word_spread.get(p.words[0], (0, 1.0))
        return n >= policy.BROAD_MIN_TARGETS and top < policy.BROAD_TOP_SHARE

    def unseen_share(self, p) -> float:
        words = [w for w in p.words if len(w) >= 2]
        if not words:
            return 0.0
        known = self.lexicon.domain_terms
        return sum(1 for w in words if "w:" + w not in self.in_scope_vocab and w not in known) / len(words)

    def signals(self, p) -> tuple[policy.Signals, list[str]]:
        feats = F.features(p)
        novel = F.novel_words(p, self.word_df, known=self.lexicon.domain_terms)
        blended, p_fallback = self.model.scores(feats + [F.NOVEL] * len(novel), [*p.words, *p.extras])
        scores = blended.tolist()
        top = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:3]   # stable: ties keep order
        ranked = [(self.targets[i], scores[i]) for i in top]
        evidence = any(f in self.in_scope_vocab for f in feats)
        novel_long = [w for w in novel if len(w) >= 2]
        return policy.Signals(ranked, p_fallback, evidence, self.unseen_share(p), len(novel_long),
                              self.is_broad_word(p), len(p.elsewhere), len(p.own_work)), feats

    def scores(self, text: str) -> tuple[dict[str, float], float, list[str]]:
        """(blended score per target, fallback probability, features) of a text, for tools."""
        p = self.lexicon.prepare(self.lexicon.strip_openers(normalise(text)))
        feats = F.with_novelty(p, self.word_df, known=self.lexicon.domain_terms)
        blended, p_fallback = self.model.scores(feats, [*p.words, *p.extras])
        return dict(zip(self.targets, blended.tolist())), p_fallback, feats

    # ------------------------------------------------------------------ routing

    def route(self, text: str) -> Route:
        text = (text or "")[:MAX_ROUTE_CHARS]
        norm = normalise(text)
        if not _WORD_CHAR.search(norm):
            return Route(FALLBACK, 1.0, [], "fallback")
        target = self.lexicon.exact_target(norm) or self.lexicon.smalltalk_only(norm)
        if target:
            return Route(target, 1.0, [(target, 1.0)], "answer")
        first = self._route_prepared(self.lexicon.strip_openers(norm))
        parts = policy.question_parts(text) if policy.may_hold_two(first) else []
        if parts:
            return policy.with_second(first, parts, self._route_part)
        return first

    def _route_prepared(self, norm: str) -> Route:
        signals, _ = self.signals(self.lexicon.prepare(norm))
        return policy.decide(signals)

    def _route_part(self, part: str) -> Route:
        norm = normalise(part)
        if len(HAN.findall(norm)) < policy.PART_MIN_CHARS:
            return Route(FALLBACK, 0.0, [], "fallback")
        return self.exact_or_model(norm)

    def exact_or_model(self, norm: str) -> Route:
        target = self.lexicon.exact_target(norm)
        if target:
            return Route(target, 1.0, [(target, 1.0)], "answer")
        return self._route_prepared(self.lexicon.strip_openers(norm))


__all__ = ["Index", "Route", "FALLBACK", "CLARIFY", "MENU"]
