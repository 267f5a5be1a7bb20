"""The router's vocabulary: jieba segmentation, synonyms, typo correction and fixed phrases.

A message is normalised (bot.nlu.normalise), sound-alike typos are corrected (bot.nlu.typo),
the canonical term of every synonym variant it contains is added (bot/nlu/synonyms.yaml), and it
is cut into words by jieba itself (accurate mode, no HMM, with the FAQ's user dictionary and
domain terms). FAQ examples at build time and messages at run time go through the same steps.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import jieba
import yaml

from bot import vocabulary
from bot.nlu.normalise import normalise
from bot.nlu.typo import TypoCorrector

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")
FAQ_PREFIXES = ("legal.", "home_office.", "union.", "service.")
MENU = "menu"
HAN = re.compile(r"[\u4e00-\u9fff]")
HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_ASCII_LETTER = re.compile(r"[a-z]")
STOPWORDS = frozenset(
    "的 了 吗 么 呢 吧 啊 呀 是 我 你 他 她 它 们 我们 你们 在 有 和 与 就 都 也 还 要 会 "
    "能 可以 这 那 这个 那个 一个 个 怎么 怎么办 什么 啥 咋 如何 多少 几 请问 请 问 "
    "一下 嘛 哦 呗 给 被 把 让 对 不 没 没有 说 想 到 去 得 着 过 又 很 太 才 "
    "现在 今天 如果 但是 可是 因为 所以 还是 或者 已经 就是 然后 自己 及 或 等 "
    "a an the is are to of for in on and or my i me you it do does can what how "
    "please pls plz want need about with this that where when who why which there have has "
    "get be will would should could any some our your his her their we they us them "
    # dialect and colloquial function words (north-east, Henan/Shandong, Sichuan/Chongqing,
    # Cantonese, Shanghainese): no topic in them, so never "a word no in-scope text uses"
    "俺 俺们 咱 咱们 恁 恁们 侬 阿拉 伊 佢 佢哋 哋 嘅 咗 嘢 系 喺 冇 唔 伐 呗 嘞 咧 噻 嘛 啦 咯 诶 哈 "
    "咋 咋整 咋办 咋弄 咋搞 啥 啥子 嘛子 哪能 晓得 莫得 要得 整 弄 搞 贼 贼拉 老 忒 杠杠 得劲 中 "
    "中不中 行不行 得不得 可不可以 点 点算 点搞 点样 乜 乜嘢 边度 边个 啷个 哪个 么子 冇得 "
    "嘎 伐啦 个么 老是 光 净 白 可 挺 蛮 超 巨 真的 就 整得 弄得".split())

# Words that only say a question is coming ("我想问个问题", "有点事想咨询", "急"): after a greeting
# they make the message a greeting still, to be answered with "please ask".
ASKING = frozenset("问 问问 问个 问题 个 咨询 请教 事 事情 点事 个事 有事 急 急急急 在线 等 打扰 麻烦 "
                   "小助手 助手 您 一下 下 下子 工会 老师 师傅 亲 问个问题 问点事 问点问题 几个问题 一个问题 问下 "
                   "想问 请问 咨询一下 一名 一位 一个 新来的 新人 刚入职".split())

@dataclass(frozen=True)
class Prepared:
    """One message as the model sees it: the corrected text, its words (no stop words), the
    canonical terms added for typos and synonyms, the words that place it elsewhere
    (faq/out_of_scope.yaml `contexts`: another country, a game, a pet …) and, when there are
    any, the words that still say it is about the worker's own job (`own_work`)."""
    corrected: str
    words: tuple[str, ...]
    extras: tuple[str, ...]
    elsewhere: tuple[str, ...] = ()
    own_work: tuple[str, ...] = ()


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice (YAML would silently keep the last)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = sorted({k for k in keys if keys.count(k) > 1}, key=str)
        if repeated:
            raise ValueError(f"{node.start_mark.name}: key written twice: {', '.join(map(str, repeated))}")
        return super().construct_mapping(node, deep=deep)


def load_synonyms(path: Path = SYNONYMS_FILE) -> dict[str, list[str]]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys) or {}
    return {str(k).lower(): [str(v).lower() for v in vs] for k, vs in data.items()}


class Lexicon:
    """Everything about words that the router knows, built from one FAQ catalogue."""

    def __init__(self, cat, synonyms: dict[str, list[str]] | None = None):
        jieba.setLogLevel(logging.WARNING)
        self.tok = jieba.Tokenizer()
        self.tok.initialize()
        if cat.userdict:
            with open(cat.userdict, "rb") as f:  # given a path, jieba leaves the file open
                self.tok.load_userdict(f)
        self.synonyms = load_synonyms() if synonyms is None else synonyms
        # Chinese variants by their first character: a message is only tested against the
        # variants whose first character it contains
        self._han_syn: dict[str, list[tuple[str, str]]] = {}
        for v, c in sorted(((v, c) for c, vs in self.synonyms.items() for v in vs if HAN.search(v)),
                           key=lambda p: -len(p[0])):
            self._han_syn.setdefault(v[0], []).append((v, c))
        # English words and loanwords are replaced by their Chinese term (longest first, so
        # "work from home" wins over "home"): left in, their Latin words would only look like
        # the English small talk of faq/out_of_scope.yaml.
        latin = sorted(((v, c) for c, vs in self.synonyms.items() for v in vs if not HAN.search(v)),
                       key=lambda p: -len(p[0]))
        self._latin_canon = dict(latin)
        self._latin_re = re.compile("|".join(rf"(?<![a-z]){re.escape(v)}(?![a-z])" for v, _ in latin)) \
            if latin else None
        self.domain_terms = self._domain_terms(cat)
        for term in sorted(self.domain_terms):
            if len(term) >= 2 and HAN.search(term) and not self.tok.FREQ.get(term):
                self.tok.add_word(term, freq=2000)
        self.typos = TypoCorrector(self._typo_terms(cat), is_word=self.is_common_word, segment=self.cut)
        self.exact = self._exact_phrases(cat)
        self.whole_synonym = {normalise(v): c for c, vs in self.synonyms.items() for v in vs
                              if normalise(v) not in self.exact}
        self.greetings, self.thanks = self._smalltalk_words(cat)
        # who the worker is (我是一名快递员): after a greeting still only an introduction
        self.work_words = {normalise(v): c for c in ("员工", "工种", "工作场所", "公司")
                           for v in self.synonyms.get(c, ()) if HAN.search(v)}
        self.contexts = tuple(sorted(cat.contexts))
        self.own_work = tuple(sorted(cat.own_work))

    # ------------------------------------------------------------------ jieba

    def cut(self, text: str) -> list[str]:
        return self.tok.lcut(text, HMM=False)

    def is_common_word(self, w: str) -> bool:
        return self.tok.FREQ.get(w, 0) >= 50

    # ------------------------------------------------------------------ built from the content

    def _domain_terms(self, cat) -> set[str]:
        terms = set()
        for canon, variants in self.synonyms.items():
            terms.add(canon)
            terms.update(v for v in variants if HAN.search(v))
        for e in cat.entries.values():
            terms.update(k.lower() for k in e.keywords)
        if cat.userdict:
            for line in cat.userdict.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    terms.add(line.split()[0])
        return {normalise(t, fillers=False) for t in terms if t}

    def _typo_terms(self, cat) -> dict[str, float]:
        """Terms a sound-alike window may be corrected to, with priorities."""
        terms: dict[str, float] = {}
        for text in cat.out_of_scope:
            for w in self.cut(normalise(text)):
                if len(w) >= 2 and self.tok.FREQ.get(w):
                    terms[w] = 1.0
        for e in cat.entries.values():
            for text in (*e.examples, e.title):
                for w in self.cut(normalise(text)):
                    if len(w) >= 2 and self.tok.FREQ.get(w):
                        terms[w] = max(terms.get(w, 0), 2.0)
        for t in self.domain_terms:
            if " " not in t:
                terms[t] = 3.0
        # Small-talk words (好的, 收到) and stop words are never what a typo meant: 能薅的 is not 好的.
        chat = {normalise(k) for e in cat.entries.values() if e.id.startswith("smalltalk.")
                for k in (*e.keywords, e.title)}
        return {t: p for t, p in terms.items() if t not in chat and t not in STOPWORDS}

    def _exact_phrases(self, cat) -> dict[str, str]:
        """Whole messages that never go through the model: a keyword only one FAQ entry has,
        flow and small-talk titles and keywords, and the fixed vocabulary (faq/vocabulary.yaml),
        which is the one place for commands and shortcuts."""
        exact: dict[str, str] = {}
        owners: dict[str, set[str]] = {}
        for e in cat.entries.values():
            if e.id.startswith(FAQ_PREFIXES):
                for k in e.keywords:
                    owners.setdefault(normalise(k), set()).add(e.id)
        exact.update({p: next(iter(ids)) for p, ids in owners.items() if len(ids) == 1 and p})
        for e in cat.entries.values():
            if e.id.startswith(("flow.", "smalltalk.")):
                for k in (e.title, *e.keywords):
                    if normalise(k):
                        exact[normalise(k)] = e.id
        for phrase, target in vocabulary.routing_phrases(cat.directory).items():
            if target == MENU or target in cat.known_ids:
                exact[normalise(phrase)] = target
        return exact

    def vocabulary_phrases(self, cat, target: str) -> list[str]:
        """The fixed phrases of the vocabulary that mean `target` (used as training text, so a
        phrase is written once, in faq/vocabulary.yaml, and still teaches the model)."""
        return [p for p, t in vocabulary.routing_phrases(cat.directory).items() if t == target]

    def _smalltalk_words(self, cat) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(greetings that may open a question, thanks that may close one), longest first."""
        sets = {"greeting": {"你好", *self.synonyms.get("你好", [])},
                "thanks": {"谢谢", *self.synonyms.get("谢谢", [])}}
        for kind, words in sets.items():
            if f"smalltalk.{kind}" in cat.entries:
                words.update(normalise(k) for k in cat.entries[f"smalltalk.{kind}"].keywords)
        return tuple(tuple(sorted((w for w in sets[k] if w), key=len, reverse=True))
                     for k in ("greeting", "thanks"))

    # ------------------------------------------------------------------ per message

    def synonyms_in(self, text: str) -> list[str]:
        """The canonical term of every Chinese synonym variant in the text."""
        by_first = self._han_syn
        return [c for ch in sorted(set(text)) if ch in by_first for v, c in by_first[ch] if v in text]

    def replace_latin(self, text: str) -> str:
        """English variants (whole words) → their Chinese term, longest first: "hr说我
        probation不合格" → "人事说我试用期不合格"."""
        if self._latin_re is None or not _ASCII_LETTER.search(text):
            return text
        text = self._latin_re.sub(lambda m: f" {self._latin_canon[m.group()]} ", text)
        return re.sub(r"\s+", " ", text).strip()

    def smalltalk_only(self, norm: str) -> str | None:
        """smalltalk.greeting / smalltalk.thanks for a message that greets (or thanks) and then
        only says that it wants to ask something: "你好在吗？我想问个问题", "亲 在不"."""
        for kind, words in (("greeting", self.greetings), ("thanks", self.thanks)):
            if not (norm.startswith(words) if kind == "greeting" else norm.endswith(words)):
                continue
            rest = norm
            for w in words:
                rest = rest.replace(w, " ")
            if rest == norm:
                continue
            if all(w in STOPWORDS or w in ASKING or self.work_words.get(w) for w in self.cut(rest) if w.strip()):
                return f"smalltalk.{kind}"
        return None

    def strip_openers(self, norm: str) -> str:
        """Drop a leading greeting / trailing thanks when a real question remains."""
        if not (norm.startswith(self.greetings) or norm.endswith(self.thanks)):
            return norm
        text, changed = norm, True
        while changed:
            changed = False
            for w in self.greetings:
                rest = text[len(w):].strip() if text.startswith(w) else ""
                if len(HAN.findall(rest)) >= 5:
                    text, changed = rest, True
            for w in self.thanks:
                rest = text[:-len(w)].strip() if text.endswith(w) else ""
                if len(HAN.findall(rest)) >= 5:
                    text, changed = rest, True
        return text

    def prepare(self, norm: str) -> Prepared:
        """A normalised text → corrected text, words and added terms."""
        segments: dict[str, list[str]] = {}       # the typo corrector's cuts, reused below
        corrected, extras = self.typos.correct(self.replace_latin(norm), segments)
        extras += self.synonyms_in(corrected)
        words = tuple(w for chunk in corrected.split() for w in (segments.get(chunk) or self.cut(chunk))
                      if w.strip() and w not in STOPWORDS)
        # a one-character context (狗, 猫) must be a word of its own; longer ones may be inside one,
        # except inside a term of the lexicon (电影 in 电影票, a member discount)
        inside_terms = [w for w in words if len(w) > 2 and w in self.domain_terms]
        elsewhere = tuple(c for c in self.contexts
                          if (c in corrected and not any(c in t and c != t for t in inside_terms)
                              if len(c) > 1 else c in words))
        own = tuple(m for m in self.own_work if m in corrected) if elsewhere else ()
        return Prepared(corrected, words, tuple(extras), elsewhere, own)

    def exact_target(self, norm: str) -> str | None:
        """The target of a whole message that is a fixed phrase (after typo correction and
        whole-message synonyms: 蟹蟹 → 谢谢, thx → 谢谢)."""
        for form in (norm, self.typos.correct(norm)[0]):
            form = self.whole_synonym.get(form, form)
            target = self.exact.get(form) or self.exact.get(form.replace(" ", ""))
            if target:
                return target
        return None

    # ------------------------------------------------------------------ pickling

    def __getstate__(self):
        # jieba's Tokenizer holds a lock; its dictionary is kept as data and the tokenizer
        # rebuilt around it, which is much faster than jieba's own start-up.
        state = dict(self.__dict__)
        tok = state.pop("tok")
        state["_jieba"] = (tok.FREQ, tok.total)
        typos = state["typos"] = object.__new__(TypoCorrector)
        typos.__dict__.update(self.typos.__dict__, segment=None, is_word=None, _cache={})
        return state

    def __setstate__(self, state):
        freq, total = state.pop("_jieba")
        self.__dict__.update(state)
        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.FREQ, tok.total, tok.initialized = freq, total, True
        self.tok = tok
        self.typos.segment, self.typos.is_word = self.cut, self.is_common_word
