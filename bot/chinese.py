"""Chinese scripts: is a text Traditional or Simplified, and converting between them (OpenCC).

Used by the router's normalisation, the fixed vocabulary, the FAQ renderer and the dialog (a worker
who writes Traditional is answered in Traditional). OpenCC is the slow step, so it is skipped for
text it could not change, decided by a character check (`_t2s_may_change`).
"""
from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
import threading
from pathlib import Path

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


def script(text: str) -> str | None:
    """"traditional" or "simplified" when the text shows which script the worker writes in,
    None when it cannot tell (digits, Latin, characters common to both)."""
    if not text:
        return None
    if not _t2s_may_change(text):  # no Traditional-only character: Simplified if any differs in s2t
        return "simplified" if _converter("s2t").convert(text) != text else None
    n_trad, n_simp = _script_counts(text)
    return "traditional" if n_trad > n_simp else "simplified" if n_simp > n_trad else None
