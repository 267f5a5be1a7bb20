"""Answers as WeChat-sized pages: regional placeholders filled in, 依据 and next steps added.

Pages carry no "more" footer: the conversation layer adds "（1/3）回复「更多」…", so every page
leaves FOOTER_BYTES of room under WeChat's 2048-byte limit for a passive text reply
(https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html).
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from bot.faq.loader import ROUTING_PREFIXES, Catalogue, FaqError
from bot.faq.schema import Regions

PAGE_CHARS = 300           # faq-topics.md: at most ~300 characters before a continuation
PAGE_BYTES = 2048          # WeChat passive-reply content limit (UTF-8 bytes)
FOOTER_BYTES = 120         # room left on each page for the conversation layer's footer
NEXT_LABELS = {"flow.handoff": "转人工"}  # a shorter reply phrase than the flow title
# A unit written right after a placeholder stays attached to the value: {x}元/月 → 2540元/月（…）
_UNIT_RE = r"(?:元|块|天|个月|小时)?(?:/(?:月|小时|天|日))?%?"
_SENTENCE_RE = re.compile(r"[^。！？；\n]*(?:[。！？；]|\n|$)")


def _date_label(valid_from) -> str:
    if isinstance(valid_from, str):
        try:
            valid_from = date.fromisoformat(valid_from)
        except ValueError:
            return valid_from
    if isinstance(valid_from, date):
        return f"{valid_from.year}年{valid_from.month}月{valid_from.day}日起"
    return ""


def _drop_unset(text: str, region: Regions) -> str:
    """Leave out every sentence that shows a value the deployment has not set yet (sample data
    marked `placeholder`): workers get the hotlines the answer also gives, never a fake address."""
    unset = {n for n, v in region.values.items() if v.placeholder}
    if not unset or not any(f"{{{n}}}" in text for n in unset):
        return text
    kept = [s for s in _SENTENCE_RE.findall(text) if not any(f"{{{n}}}" in s for n in unset)]
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()


def fill_placeholders(text: str, region: Regions) -> str:
    """{minimum_wage_monthly}元/月 → 2540元/月（北京市，2025年9月1日起）."""
    text = _drop_unset(text, region)

    def sub(m: re.Match) -> str:
        spec = region.values[m.group(1)]
        if not spec.valid_from:          # e.g. a hotline number: no date to show
            return f"{spec.value}{m.group(2)}"
        note = "，".join(p for p in (region.region, _date_label(spec.valid_from)) if p)
        return f"{spec.value}{m.group(2)}（{note}）"

    return re.sub(r"\{(\w+)\}(" + _UNIT_RE + ")", sub, text)


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than a page is cut after sentence ends (。！？；), else hard."""
    parts, current = [], ""
    for sentence in re.findall(r"[^。！？；]*[。！？；]?", paragraph):
        if not sentence:
            continue
        while len(sentence) > limit:
            parts.append(current + sentence[: limit - len(current)])
            sentence, current = sentence[limit - len(current):], ""
        if len(current) + len(sentence) > limit:
            parts.append(current)
            current = ""
        current += sentence
    if current:
        parts.append(current)
    return parts


def paginate(text: str, limit: int = PAGE_CHARS) -> list[str]:
    """Pack paragraphs (blank-line separated) into pages of at most `limit` characters.

    A paragraph longer than a page is split at line ends, then at sentence ends.
    """
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip()
        if not para:
            continue
        if len(para) <= limit:
            paragraphs.append(para)
            continue
        for line in para.splitlines():
            if line.strip():
                paragraphs.extend(_split_long(line.strip(), limit))
    pages, current = [], []
    for para in paragraphs:
        if current and len("\n\n".join(current + [para])) > limit:
            pages.append("\n\n".join(current))
            current = []
        current.append(para)
    if current:
        pages.append("\n\n".join(current))
    return pages or [""]


def _next_line(e, cat: Catalogue) -> str:
    labels = []
    for item in e.next:
        if item in cat.entries:
            labels.append(NEXT_LABELS.get(item) or cat.entries[item].title)
        elif not item.startswith(ROUTING_PREFIXES):
            labels.append(item)
    return "您还可以回复：" + "｜".join(labels) if labels else ""


_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


@lru_cache(maxsize=4096)  # per paragraph: an answer's paragraphs are the same for every message
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(run[i:i + 2] for run in _HAN_RUN.findall(text) for i in range(len(run) - 1))


def question_first(paragraphs: list[str], question: str | None) -> list[str]:
    """The paragraph that shares most with the worker's question moves to the front, so the
    sub-question asked is answered on page 1 ("工伤认定有时间限制吗" → the paragraph on applying).
    Only answer paragraphs move: not a closing "回复…" one. Shared character pairs decide (the
    question is short; at least two pairs and more than the opening paragraph shares)."""
    if not question or len(paragraphs) < 2:
        return paragraphs
    from bot.chinese import to_simplified

    asked = _bigrams(to_simplified(question))
    movable = [i for i, p in enumerate(paragraphs) if "回复「" not in p]
    if not asked or not movable:
        return paragraphs
    shared = {i: len(asked & _bigrams(paragraphs[i])) for i in movable}
    best = max(movable, key=lambda i: (shared[i], -i))
    if best == 0 or shared[best] < 2 or shared[best] <= shared.get(0, 0):
        return paragraphs
    return [paragraphs[best]] + paragraphs[:best] + paragraphs[best + 1:]


def render_text(faq_id: str, cat: Catalogue, question: str | None = None) -> str:
    """The whole answer as one text: answer (the part the question asks about first, when one
    is given), 依据 (legal), next steps."""
    e = cat.entries[faq_id]
    body = fill_placeholders(e.answer or e.title, cat.region)
    paragraphs = question_first([p for p in re.split(r"\n\s*\n", body) if p.strip()], question)
    shown = "依据：" if e.id.startswith("legal.") else "依据"
    if e.basis and shown not in body:
        # before a closing "回复…" paragraph, so the answer still ends with the next step
        at = len(paragraphs) - 1 if len(paragraphs) > 1 and "回复" in paragraphs[-1] else len(paragraphs)
        paragraphs.insert(at, f"依据：{e.basis}")
    if "回复" not in body:            # the answer does not already say what to reply next
        nxt = _next_line(e, cat)
        if nxt:
            paragraphs.append(nxt)
    return "\n\n".join(paragraphs)


def render_pages(cat: Catalogue, faq_id: str, traditional: bool = False, question: str | None = None) -> list[str]:
    """Page bodies, each under 2048 bytes with room for a footer; Traditional script on request.
    `question`: the worker's message, so the part of the answer it asks about comes first."""
    pages = paginate(render_text(faq_id, cat, question=question))
    if traditional:
        from bot.chinese import to_traditional

        pages = [to_traditional(p) for p in pages]
    return pages


def check_pages(cat: Catalogue) -> None:
    """Every rendered page of every answer fits WeChat with room for the footer."""
    for e in cat.entries.values():
        if e.answer:
            for page in paginate(render_text(e.id, cat)):
                if len(page.encode("utf-8")) >= PAGE_BYTES - FOOTER_BYTES:
                    raise FaqError(f"a rendered page is {len(page.encode())} bytes "
                                   f"(limit {PAGE_BYTES - FOOTER_BYTES})", e.file, e.id)
