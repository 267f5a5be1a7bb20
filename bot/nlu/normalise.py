"""Text normalisation for routing: width, script, case, punctuation, numerals, voice fillers.

`normalise()` is what the matcher indexes and queries with, so training examples and worker
messages go through exactly the same steps. `is_traditional()` / `to_traditional()` let the
bot answer a worker in the script they wrote in.

OpenCC (Traditional → Simplified) and cn2an (numerals) are the slow steps: both are skipped for
text they could not change (bot/chinese.py; numerals: `_CN_NUMERAL`), and
cn2an's value of each numeral is memoised.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

from bot.chinese import is_traditional, script, to_simplified, to_traditional  # noqa: F401 – used and re-exported

log = logging.getLogger(__name__)

# Script detection and conversion (OpenCC) live in bot/chinese.py, below every user of them.
# Voice transcripts: discourse fillers and polite openers that carry no topic. 那个 never
# matches inside 哪个; none of these is part of a domain term.
_FILLER_WORDS = ("那个那个", "就是说", "怎么说呢", "然后呢", "那个", "这个这个", "就是", "然后", "反正",
                 "对吧", "你知道吧", "是这样的", "是这样", "我跟你说", "我想问一下", "我想问问",
                 "想问一下", "问一下", "请问一下", "请问", "麻烦问下", "麻烦问一下", "打扰一下")
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, _FILLER_WORDS), key=len, reverse=True)))
# Hesitation sounds are dropped anywhere; other interjections only where they are pauses, at
# the start or end of a stretch of text (so 啊 in 啊啊啊 goes, but 哈 in 哈尔滨 stays).
_INTERJ_RE = re.compile(r"[嗯呃唔]+|(?:^|(?<=\s))[啊哦噢喔诶欸哎呀哇]+|[啊呀吧呢啦咯哇哦噢]+(?=\s|$)")

# Everything that is not a letter, digit, CJK ideograph or one of the few symbols that carry
# meaning in this domain (N+1, 50%, 36.5, 12351).
_DROP_RE = re.compile(r"[^\w%+.\u4e00-\u9fff]+|_")
_SPACES_RE = re.compile(r"\s+")

_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
# Any character numerals_to_digits() could act on; without one it returns the text unchanged
# (and cn2an, the slow part, is never reached).
_CN_NUMERAL = re.compile(f"[{_CN_DIGITS}俩仨钟]")
# A Chinese numeral followed by a unit of time, money, count or degree. Numerals inside words
# (一起, 一下, 二次报销, 一线) are left alone.
_NUMERAL_RE = re.compile(
    rf"(?:第)?([{_CN_DIGITS}]+)(?=个月|个小时|个工作日|小时|周岁|年|天|日|周|倍|元|块|岁|号|个人|人|成|折|度|%)"
)
_PERCENT_RE = re.compile(rf"百分之([{_CN_DIGITS}点]+)")


MAX_NUMERAL = 10**15


@lru_cache(maxsize=4096)
def _cn_value(numeral: str):
    """cn2an's value of one numeral (三, 十二, 五十), None if it rejects it. Memoised per numeral:
    cn2an takes ~5 µs a call and messages keep using the same few numerals."""
    import cn2an  # 0.1 s to import: paid by the first message with a numeral, not by every start

    try:
        value = cn2an.cn2an(numeral, "smart")
    except (ValueError, KeyError, IndexError, OverflowError):
        return None
    # A run of hundreds of 一 is not a quantity anyone means; it stays as written (and a float
    # of it would overflow).
    return value if abs(value) < MAX_NUMERAL else None


def _numeral(match: re.Match) -> str:
    value = _cn_value(match.group(1))
    if value is None:
        return match.group(0)
    prefix = "第" if match.group(0).startswith("第") else ""
    return f"{prefix}{int(value) if float(value).is_integer() else value}"


def _percent(match: re.Match) -> str:
    value = _cn_value(match.group(1))
    if value is None:
        return match.group(0)
    return f"{int(value) if float(value).is_integer() else value}%"


# Spoken forms of numbers and units: 俩月 → 两月, 仨 → 三, 十个钟头 → 十个小时.
_SPOKEN = str.maketrans({"俩": "两", "仨": "三"})
_SPOKEN_UNITS_RE = re.compile(r"钟头")


def numerals_to_digits(text: str) -> str:
    """三个月 → 3个月, 百分之五十 → 50%, 十二个小时 → 12个小时; other numerals untouched."""
    if not _CN_NUMERAL.search(text):
        return text
    text = _SPOKEN_UNITS_RE.sub("小时", text.translate(_SPOKEN))
    text = _PERCENT_RE.sub(_percent, text)
    return _NUMERAL_RE.sub(_numeral, text)


def strip_fillers(text: str) -> str:
    """Remove voice-transcript fillers (嗯, 那个, 就是, 然后 …) but keep a filler-only text."""
    out = _FILLER_RE.sub(" ", text)
    out = _INTERJ_RE.sub(" ", out)
    return out if out.strip() else text


def normalise(text: str, *, fillers: bool = True) -> str:
    """The canonical form the matcher sees.

    NFKC (full-width → half-width), Traditional → Simplified, lower case, numerals → digits,
    fillers removed, punctuation and emoji replaced by single spaces.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text).lower()
    text = _DROP_RE.sub(" ", text)
    text = text.replace("%", "% ")
    text = numerals_to_digits(text)
    if fillers:
        text = strip_fillers(text)
    return _SPACES_RE.sub(" ", text).strip()

