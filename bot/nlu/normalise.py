"""Text normalisation for routing: width, script, case, punctuation, numerals, voice fillers.

`normalise()` is what the matcher indexes and queries with, so training examples and worker
messages go through exactly the same steps. `is_traditional()` / `to_traditional()` let the
bot answer a worker in the script they wrote in.

OpenCC (Traditional → Simplified) and cn2an (numerals) are the slow steps: both are skipped for
text they could not change, decided by a character check (`_t2s_may_change`, `_CN_NUMERAL`), and
cn2an's value of each numeral is memoised.
"""
from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import cn2an

log = logging.getLogger(__name__)

_lock = threading.Lock()
_converters: dict[str, object] = {}
_UNREAD = object()
_t2s_gate = _UNREAD                  # see _t2s_may_change

# s2t (character-level) rather than s2twp: answers cite mainland laws and terms, and s2twp's
# Taiwan phrase substitutions would change them (视频调解 → 影片調解, 信息 → 資訊).
TRADITIONAL_CONFIG = "s2t"


def _converter(config: str):
    """One OpenCC converter per config per process (creating one costs ~50 ms)."""
    conv = _converters.get(config)
    if conv is None:
        with _lock:
            conv = _converters.get(config)
            if conv is None:
                import opencc

                conv = _converters[config] = opencc.OpenCC(config)
    return conv


def _dictionary_keys(conv) -> set[str] | None:
    """Every key of the dictionaries an OpenCC converter uses, dumped from its own dictionary
    files with the `opencc_dict` tool that ships in the same wheel; None when that is not
    possible (another OpenCC build)."""
    import opencc

    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    config = Path(conv.config)
    files: list[dict] = []

    def collect(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    keys: set[str] = set()
    try:
        collect(json.loads(config.read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory() as tmp:
            for d in files:
                source = config.parent / d["file"]
                if d.get("type") == "text":
                    dump = source
                elif d.get("type") == "ocd2":
                    dump = Path(tmp) / f"{source.name}.txt"
                    subprocess.run([str(tool), "-i", str(source), "-o", str(dump),
                                    "-f", "ocd2", "-t", "text"],
                                   check=True, capture_output=True, timeout=60)
                else:
                    return None
                keys.update(line.split("\t", 1)[0] for line in
                            dump.read_text(encoding="utf-8").splitlines())
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        log.info("OpenCC dictionaries not readable (%s): every text goes through OpenCC", exc)
        return None
    return {k for k in keys if k} or None


def _t2s_may_change(text: str) -> bool:
    """Whether OpenCC t2s could change the text (False: it would return the text as is).

    A text in which no dictionary key occurs matches no entry, so its conversion is the
    identity; checking that costs a fraction of the call (~0.4 µs a character). A phrase key
    that contains a one-character key can only occur where that character does, so the check
    is: any one-character key among the text's characters (a set), or one of the few phrase
    keys made only of other characters (沈默, 有序: a regex). NUL and lone surrogates always
    count as changeable: OpenCC cuts a text at NUL and cannot encode a surrogate, and a
    worker's text keeps getting exactly that treatment.
    """
    global _t2s_gate
    gate = _t2s_gate
    if gate is _UNREAD:
        conv = _converter("t2s")
        with _lock:
            if _t2s_gate is _UNREAD:
                keys = _dictionary_keys(conv)
                if keys is None:
                    _t2s_gate = None                   # unknown dictionaries: always convert
                else:
                    chars = {k for k in keys if len(k) == 1}
                    chars |= {"\0"} | {chr(c) for c in range(0xD800, 0xE000)}
                    rest = sorted(k for k in keys if len(k) > 1 and chars.isdisjoint(k))
                    pattern = re.compile("|".join(map(re.escape, rest))) if rest else None
                    _t2s_gate = (frozenset(chars), pattern)
            gate = _t2s_gate
    if gate is None:
        return True
    chars, pattern = gate
    return not chars.isdisjoint(text) or bool(pattern and pattern.search(text))


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text) if text and _t2s_may_change(text) else text


def to_traditional(text: str) -> str:
    """Simplified → Traditional for replies to a worker who writes Traditional."""
    return _converter(TRADITIONAL_CONFIG).convert(text) if text else text


def _script_counts(text: str) -> tuple[int, int]:
    """(characters only Traditional would write, characters only Simplified would write)."""
    simp, trad = to_simplified(text), _converter("s2t").convert(text)
    if len(simp) != len(text) or len(trad) != len(text):  # phrase conversions changed length
        simp = "".join(to_simplified(c) for c in text)
        trad = "".join(_converter("s2t").convert(c) for c in text)
    n_trad = sum(1 for a, b in zip(text, simp) if a != b)
    n_simp = sum(1 for a, b in zip(text, trad) if a != b)
    return n_trad, n_simp


def is_traditional(text: str) -> bool:
    """True when the text has more Traditional-only than Simplified-only characters."""
    if not text or not _t2s_may_change(text):
        return False                      # no Traditional-only character: n_trad would be 0
    n_trad, n_simp = _script_counts(text)
    return n_trad > n_simp


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


def script(text: str) -> str | None:
    """"traditional" or "simplified" when the text shows which script the worker writes in,
    None when it cannot tell (digits, Latin, characters common to both)."""
    if not text:
        return None
    if not _t2s_may_change(text):  # no Traditional-only character: Simplified if any differs in s2t
        return "simplified" if _converter("s2t").convert(text) != text else None
    n_trad, n_simp = _script_counts(text)
    return "traditional" if n_trad > n_simp else "simplified" if n_simp > n_trad else None
