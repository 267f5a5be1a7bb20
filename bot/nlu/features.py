"""What the model reads from a prepared message: words, character n-grams, synonym terms and
"novel" words, as feature strings.

    w:<word>   a word (jieba), or a canonical term added for a synonym or typo
    s:<term>   a canonical term added for a synonym or typo (so it also counts on its own)
    c1:<char>  c2:<two characters>   character n-grams of each run of Chinese characters
    x:novel    one per word that no (other) in-scope text uses: a message about something
               else (美国的最低工资, 狗狗体检) usually has some, and the model learns from both
               sides how much an unfamiliar word says that a message is out of scope
    x:elsewhere  one per word that places the question outside the worker's own work
               (faq/out_of_scope.yaml `contexts`: 德国, 游戏, 宠物, 健身卡 …), learnt the same way
"""
from __future__ import annotations

from collections import Counter

from bot.nlu.lexicon import HAN_RUN, Prepared

NOVEL = "x:novel"
ELSEWHERE = "x:elsewhere"
CHAR_NGRAMS = (1, 2)
# A knowledge-base text's own word counts as novel when at most this many in-scope texts (itself
# included) use it. Leave-one-out (1) undercounts: the examples were written together and share
# their words far more than a worker's unseen message shares them; counting a word two examples
# share brings the training rate of novel words closer to that of new messages. Cross-validated
# (bench/routing.py --calibrate), 1 → 2: in-scope accuracy 0.917 → 0.923 on held-out knowledge-base
# examples and 0.952 → 0.956 on the probes, rejection 0.950 → 0.942 and 0.973 → 0.965 (one probe).
OWN_NOVEL_USES = 2


def features(p: Prepared) -> list[str]:
    feats = ["w:" + w for w in p.words]
    for part in HAN_RUN.findall(p.corrected):
        for n in CHAR_NGRAMS:
            feats += [f"c{n}:" + part[i:i + n] for i in range(len(part) - n + 1)]
    for term in p.extras:
        feats += ["w:" + term, "s:" + term]
    return feats + [ELSEWHERE] * len(p.elsewhere)


def novel_words(p: Prepared, word_df: dict[str, int], own: bool = False,
                known: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The message's own words (not synonym additions) that no in-scope text uses; `own`: the
    text is itself one of the in-scope texts counted in `word_df` (see OWN_NOVEL_USES); `known`:
    words the lexicon knows anyway (synonym variants, keywords), never novel."""
    seen, out = set(p.extras), []
    for w in p.words:
        if w not in seen and w not in known:
            seen.add(w)
            if word_df.get(w, 0) - (OWN_NOVEL_USES if own else 0) <= 0:
                out.append(w)
    return out


def word_document_frequency(prepared: list[Prepared]) -> dict[str, int]:
    """In how many of the texts each word (including added terms) occurs."""
    df: Counter[str] = Counter()
    for p in prepared:
        df.update(set(p.words) | set(p.extras))
    return dict(df)


def with_novelty(p: Prepared, word_df: dict[str, int], own: bool = False,
                 known: frozenset[str] | set[str] = frozenset()) -> list[str]:
    return features(p) + [NOVEL] * len(novel_words(p, word_df, own, known))
