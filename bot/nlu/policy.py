"""Decision policy: answer, ask back (clarify) or fall back, from the model's scores; and whether a
message holds a second, different question.

Every threshold is on this screen. They were chosen by cross-validation on the knowledge base
(FAQ examples and faq/out_of_scope.yaml) and fresh probe messages (bench/routing.py
--calibrate), never on the evaluation files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

FALLBACK, CLARIFY = "fallback", "clarify"

# -- topic: which target -----------------------------------------------------------------------
ANSWER_MIN = 0.25       # top blended score needed to answer outright …
ANSWER_MARGIN = 0.05    # … and its lead over the runner-up
CLARIFY_MIN = 0.25      # below this nothing is offered: fallback …
IN_SCOPE_PF = 0.10      # … unless fallback is this unlikely and the top score reaches …
CLARIFY_SPREAD = 0.10   # … this (a spread-out but clearly in-scope message earns a clarify)
# -- scope: is it about the worker's own work, employer, union or these services? -------------
FALLBACK_WINS = 0.30    # fallback probability that rejects outright (when it beats the top target)
OOV_RATIO = 0.6         # share of the message's words no in-scope text uses, at or above which …
OOV_ANSWER_MIN = 0.6    # … the top score must reach this, else fallback
ELSEWHERE_ANSWER_MIN = 0.25  # a word placing it elsewhere (德国, 游戏, 宠物): top score needed,
                             # and no answer at all unless a word says it is the worker's own job
                             # (我在, 老板, 单位; not a topic word: 英国最低工资 is strong on topic alone)
# -- a bare word many topics share (工资, 假期, 公司) is asked back, never guessed -----------------
BROAD_MIN_TARGETS = 3   # the word occurs in the examples of at least this many targets …
BROAD_TOP_SHARE = 0.5   # … and no target holds this share of its uses
BROAD_MAX_CHARS = 4
BROAD_OPTION_MIN = 0.02
# -- two questions in one message ---------------------------------------------------------------
SECOND_GATE = 0.05      # parts are routed only when the whole message's runner-up has this …
SECOND_MIN = 0.45       # … and a part's own top score needs this to count as a question of its own
STATEMENT_GATE = 0.25    # parts that ask nothing ("公司拖欠工资，还不给交社保，怎么办") count only when
                        # no part that asks is a question of its own, and the whole message also
                        # gives their target this much
PART_MIN_CHARS = 4      # Chinese characters a part needs to be routed on its own


@dataclass(frozen=True)
class Route:
    """A routing decision.

    target: an FAQ id, a flow.* or smalltalk.* id, "menu", "clarify" or "fallback".
    decision: "answer" (target is an FAQ, flow, small-talk or menu id), "clarify" (ask back
    with `candidates`) or "fallback".
    second: the target of a second, different in-scope question in the same message (None when
    there is one question); the conversation layer answers both or offers the other next.
    """
    target: str
    score: float
    candidates: list[tuple[str, float]] = field(default_factory=list)
    decision: str = "answer"
    second: str | None = None


@dataclass(frozen=True)
class Signals:
    """What the policy reads about one message."""
    ranked: list[tuple[str, float]]     # (target, blended score), best first, at least two
    p_fallback: float
    evidence: bool                      # any feature that some in-scope text has
    unseen: float                       # share of its words (2+ chars) no in-scope text uses
    novel: int                          # number of such words
    broad: bool                         # one bare word many targets share
    elsewhere: int = 0                  # words that place it outside the worker's own work
    own_work: int = 0                   # … and words that say it is still about their own job


def decide(s: Signals) -> Route:
    (t1, s1), (_, s2) = s.ranked[0], s.ranked[1]
    candidates = [(t, round(v, 4)) for t, v in s.ranked[:3]]
    reject = Route(FALLBACK, round(max(s.p_fallback, 1 - s1), 4), candidates, "fallback")
    if not s.evidence:
        return Route(FALLBACK, round(s.p_fallback, 4), candidates, "fallback")
    if s.broad:
        options = [(t, v) for t, v in candidates if v >= BROAD_OPTION_MIN]
        if len(options) >= 2:
            return Route(CLARIFY, round(s1, 4), options, "clarify")
    if s.p_fallback >= FALLBACK_WINS and s.p_fallback > s1:
        return reject
    if s.unseen >= OOV_RATIO and s1 < OOV_ANSWER_MIN:
        return reject
    if s.elsewhere and (not s.own_work or s1 < ELSEWHERE_ANSWER_MIN):
        return reject
    if s1 >= ANSWER_MIN and s1 - s2 >= ANSWER_MARGIN:
        return Route(t1, round(s1, 4), candidates, "answer")
    if s1 >= CLARIFY_MIN or (s.p_fallback <= IN_SCOPE_PF and s1 >= CLARIFY_SPREAD):
        options = [(t, v) for t, v in candidates if v >= s1 / 3]
        if len(options) == 1:
            return Route(t1, round(s1, 4), candidates, "answer")
        return Route(CLARIFY, round(s1, 4), options, "clarify")
    return reject


# -- two questions --------------------------------------------------------------------------------
# A part of a message is a question when it asks (a question word or mark); a message is split
# after a question mark or before a word that adds a question (另外, 还有, 顺便问下 …).
_SPLIT = re.compile(r"(?<=[?？])|[。；;!！\n]|(?:另外|还有就是|还有|顺便问一下|顺便问下|顺便问|再问一下|再问下|以及|此外)")
_ASKS = re.compile(r"[?？吗呢么]|怎么|怎样|如何|多少|多久|多长|几[天个年倍月次小号]|什么|啥|咋|能不能|"
                   r"可不可以|可以不|是不是|有没有|算不算|合不合法|行不行|要不要|哪|是否|能否|可否|"
                   r"找谁|谁发|谁出|谁付|谁来|谁给|谁管|归谁|点算|点办|点样")
_COMMA = re.compile(r"[,，、]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def question_parts(text: str) -> list[tuple[str, bool]]:
    """The parts of a message, each with whether it asks something ([] when there is one part).

    Split at sentence ends and question-adding words first; when that gives fewer than two parts
    that ask, at commas too: "会费交多少，入会有啥好处" → two asking parts; "公司拖欠工资，还不给交
    社保，怎么办" → two statements and a question; "我在厂里干了三年，老板不给钱怎么办" → a statement
    and a question (with_second decides which parts count).
    """
    def split(pattern, chunks):
        return [p.strip() for c in chunks for p in pattern.split(c) if p and p.strip()]

    parts = split(_SPLIT, [text])
    if sum(1 for p in parts if _ASKS.search(p)) < 2:
        parts = split(_COMMA, parts)
    return [(p, bool(_ASKS.search(p))) for p in parts] if len(parts) >= 2 else []


def may_hold_two(first: Route) -> bool:
    """Worth routing the parts: an answer, or a choice between two, whose runner-up also drew
    some score (two questions share the model's probability; one question rarely leaves much
    for a second target)."""
    return (first.decision in ("answer", "clarify") and len(first.candidates) > 1
            and first.candidates[1][1] >= SECOND_GATE)


def _confident(r: Route) -> bool:
    return (r.decision == "answer" and r.score >= SECOND_MIN and not r.target.startswith("smalltalk.")
            and r.target != "menu")


def with_second(first: Route, parts: list[tuple[str, bool]], route_part) -> Route:
    """`first`, with the target of another confidently answered part as `second`
    (`route_part(text)` routes a part; only the parts that can matter are routed).

    Two parts that ask are two questions. Parts that ask nothing count only when the one
    question is a bare one (怎么办, 咋整) and the whole message also gave their target
    STATEMENT_GATE: two problems, then "what do I do?"; otherwise they are the story before the
    question ("公司一直不交社保，我辞职能要补偿吗" is one question). A message the whole-message
    model could only split between two targets, each part answering one of them, is two
    questions: the first part's is answered and the other is the second."""
    asking = [p for p, asks in parts if asks]
    backed = {t for t, v in first.candidates if v >= STATEMENT_GATE}
    if len(asking) >= 2:
        parts = [r for r in map(route_part, asking) if _confident(r)]
    elif len(asking) == 1 and len(_HAN.findall(asking[0])) < PART_MIN_CHARS and backed - {first.target}:
        parts = [r for r in map(route_part, (p for p, asks in parts if not asks))
                 if _confident(r) and r.target in backed]
    else:
        return first                              # one question after its story, or none
    if first.decision == "answer":
        for r in parts:
            if r.target != first.target:
                return Route(first.target, first.score, first.candidates, "answer", r.target)
        return first
    options = {t for t, _ in first.candidates}
    found = [r for r in parts if r.target in options]
    if len({r.target for r in found}) >= 2:
        one = found[0]
        two = next(r for r in found if r.target != one.target)
        return Route(one.target, one.score, first.candidates, "answer", two.target)
    return first
