"""The knowledge base learning from workers' questions: what to review, and the overlay staff edit.

Questions the router could not answer (or answered unsure) are grouped for review, most frequent
first. Staff add one as an example of an FAQ entry or mark it out of scope; it goes into the
overlay (KbExample rows, bot.faq.overlay) that every process's router learns within seconds, and
`flask faq export-overlay` later writes it into faq/*.yaml. A question is an example of at most one
entry (or out of scope): compared as fixed phrases are (bot.vocabulary.key), and the overlay's
unique key keeps it so in the database too. Every change is audited; the caller commits.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import audit, faq
from bot.clock import aware, now
from bot.faq import overlay, writer
from bot.models import FeedbackVote, KbExample, RouteLog
from bot.vocabulary import key

MAX_EXAMPLE = 200  # characters; FAQ examples are one question
REVIEW_ROWS = 5000  # newest unsure questions read for the review list
OUT_OF_SCOPE = "out_of_scope"


class KnowledgeError(ValueError):
    """A change the knowledge base refuses (the message is for staff)."""


def title(faq_id: str | None) -> str:
    if faq_id is None:
        return "超出服务范围"
    try:
        return faq.title(faq_id)
    except KeyError:
        return faq_id


# -- where a question already is -----------------------------------------------------------------
@lru_cache(maxsize=2)
def _file_keys(version: str) -> dict[str, str | None]:
    cat = faq.current()
    found: dict[str, str | None] = {key(t): None for t in cat.out_of_scope}
    for entry in cat.entries.values():
        for text in entry.examples:
            found.setdefault(key(text), entry.id)
    return found


def placed(session, text: str) -> tuple[str, str | None] | None:
    """Where the question already is: ("file" | "overlay", faq_id or None for out of scope), or None."""
    k = key(text)
    row = session.scalars(select(KbExample).where(KbExample.key == k)).first()
    if row is not None:
        return "overlay", row.faq_id
    files = _file_keys(faq.current().version)
    return ("file", files[k]) if k in files else None


def _add(session, text: str, faq_id: str | None, actor: str) -> KbExample:
    text = " ".join((text or "").split())
    if not text:
        raise KnowledgeError("问题内容是空的。")
    if len(text) > MAX_EXAMPLE:
        raise KnowledgeError(f"例句最多 {MAX_EXAMPLE} 字（这条 {len(text)} 字），请先在知识库文件里改写成一句话。")
    if faq_id is not None and faq_id not in faq.current().entries:
        raise KnowledgeError("没有这个知识库条目，请重新选择。")
    if not key(text):
        raise KnowledgeError("这条消息没有文字内容，不能作为例句。")
    where = placed(session, text)
    if where is not None:
        _, there = where
        if there == faq_id:
            raise KnowledgeError(f"这个问题已经是「{title(there)}」的例句了。" if faq_id else "这个问题已经标为超出服务范围了。")
        raise KnowledgeError(f"这个问题已经归在「{title(there)}」，一个问题只能属于一个条目"
                             "（如需改动，请先在知识库里移除原来的）。")
    row = KbExample(faq_id=faq_id, text=text, key=key(text), added_by=actor)
    try:  # PostgreSQL: a colleague may add the same question at the same moment
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise KnowledgeError("同事刚刚已经处理了这个问题，请刷新页面。") from None
    overlay.bump(session)
    audit.record(session, actor, "kb.example_add" if faq_id else "kb.out_of_scope", "kb_example", row.id,
                 faq_id=faq_id)
    return row


def add_example(session, text: str, faq_id: str, actor: str) -> KbExample:
    """The question becomes an example of the entry: the router answers it with that entry."""
    if not faq_id:
        raise KnowledgeError("请选择要归入的知识库条目。")
    return _add(session, text, faq_id, actor)


def mark_out_of_scope(session, text: str, actor: str) -> KbExample:
    """The question is out of the service's scope: the router falls back on it (and its near misses)."""
    return _add(session, text, None, actor)


def remove(session, row: KbExample, actor: str) -> None:
    if row.exported_at is not None:
        raise KnowledgeError("这条已经写入知识库文件，请在 faq/ 目录的文件里修改。")
    session.delete(row)
    overlay.bump(session)
    audit.record(session, actor, "kb.example_remove", "kb_example", row.id, faq_id=row.faq_id)


def overlay_rows(session, limit: int = 200) -> list[KbExample]:
    return list(session.scalars(select(KbExample).order_by(KbExample.id.desc()).limit(limit)))


# -- what to review ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """Workers' messages that read the same (bot.vocabulary.key), newest wording shown."""

    text: str
    count: int
    last_at: datetime
    decisions: dict[str, int]  # fallback / clarify / answer (unsure) → how often
    guess: str | None  # the router's most frequent best guess

    @property
    def fell_back(self) -> int:
        return self.decisions.get("fallback", 0)


def review(session, days: int = 30, limit: int = 50) -> list[Question]:
    """Questions the router could not answer or answered unsure, most frequent first; those already
    added to an entry or marked out of scope are left out."""
    rows = session.execute(select(RouteLog.text, RouteLog.decision, RouteLog.target, RouteLog.created_at)
                           .where(RouteLog.created_at >= now() - timedelta(days=days), RouteLog.text != "")
                           .order_by(RouteLog.id.desc()).limit(REVIEW_ROWS)).all()
    groups: dict[str, list] = {}
    for row in rows:
        k = key(row.text)
        if k:
            groups.setdefault(k, []).append(row)
    done = set(session.scalars(select(KbExample.key).where(KbExample.key.in_(list(groups))))) if groups else set()
    files = _file_keys(faq.current().version)
    found = []
    for k, group in groups.items():
        if k in done or k in files:
            continue
        guesses = Counter(r.target for r in group if r.target)
        found.append(Question(group[0].text, len(group), aware(group[0].created_at),
                              dict(Counter(r.decision for r in group)), guesses.most_common(1)[0][0] if guesses else None))
    found.sort(key=lambda q: (q.count, q.last_at), reverse=True)
    return found[:limit]


@dataclass(frozen=True)
class Votes:
    faq_id: str
    helpful: int
    not_helpful: int

    @property
    def total(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def not_helpful_rate(self) -> float:
        return self.not_helpful / self.total if self.total else 0.0


def votes(session, days: int = 30) -> list[Votes]:
    """有帮助 / 没解决 per FAQ entry, the worst rate first (then the most votes)."""
    rows = session.execute(select(FeedbackVote.faq_id, FeedbackVote.helpful, func.count(FeedbackVote.id))
                           .where(FeedbackVote.created_at >= now() - timedelta(days=days))
                           .group_by(FeedbackVote.faq_id, FeedbackVote.helpful)).all()
    table: dict[str, list[int]] = {}
    for faq_id, helpful, n in rows:
        table.setdefault(faq_id, [0, 0])[0 if helpful else 1] += n
    found = [Votes(faq_id, good, bad) for faq_id, (good, bad) in table.items()]
    return sorted(found, key=lambda v: (v.not_helpful_rate, v.total), reverse=True)


# -- into the files ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Exported:
    rows: int
    files: list[Path]


def export(session, directory: Path, actor: str) -> Exported:
    """Write the overlay's new examples into faq/*.yaml (bot.faq.writer) and mark them exported.

    Refused, writing nothing, when a question is in the files already under another entry (the
    files changed since it was added) or the result would not validate."""
    rows = list(session.scalars(select(KbExample).where(KbExample.exported_at.is_(None)).order_by(KbExample.id)))
    if not rows:
        return Exported(0, [])
    try:
        cat = faq.load(directory)
    except faq.FaqError as exc:
        raise KnowledgeError(f"没有导出：知识库文件有错误，请先修正：{exc}") from exc
    in_files = {key(t): None for t in cat.out_of_scope}
    for entry in cat.entries.values():
        in_files.update({key(t): entry.id for t in entry.examples})
    per_entry: dict[str, list[str]] = {}
    out_of_scope, conflicts = [], []
    for row in rows:
        if row.key in in_files:
            if in_files[row.key] != row.faq_id:
                conflicts.append(f"「{row.text}」已在文件里归入 {in_files[row.key] or '超出范围'}，"
                                 f"知识库工作台里归入 {row.faq_id or '超出范围'}")
            continue  # already there, in the same place
        (per_entry.setdefault(row.faq_id, []) if row.faq_id else out_of_scope).append(row.text)
    if conflicts:
        raise KnowledgeError("没有导出：一个问题只能属于一个条目。请先处理：\n" + "\n".join(conflicts))
    try:
        files = writer.add_examples(directory, per_entry, out_of_scope)
    except faq.FaqError as exc:
        raise KnowledgeError(f"没有导出：{exc}") from exc
    for row in rows:
        row.exported_at = now()
    overlay.bump(session)
    audit.record(session, actor, "kb.export", "faq", str(directory), rows=len(rows),
                 files=[p.name for p in files])
    return Exported(len(rows), files)
