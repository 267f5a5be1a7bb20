"""Write examples into faq/*.yaml, leaving every other byte of the files as it was.

`flask faq export-overlay` uses it to move the knowledge-base overlay into the files. A YAML
library that dumps the whole file would re-indent and re-quote it (and PyYAML drops the comments),
so the new lines are inserted as text, at the place PyYAML's node marks give: after the last item
of the entry's `examples` list, with that item's indentation (hand-written for that reason). The
result is loaded and checked (the whole directory validates, each entry gained exactly the new
examples) in a copy of the directory before any real file is replaced.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from bot.faq.loader import OUT_OF_SCOPE_FILE, FaqError
from bot.faq.store import load


def scalar(text: str) -> str:
    """The text as a YAML list item: plain when that reads back the same, else double-quoted."""
    try:
        if yaml.safe_load(f"- {text}") == [text]:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _examples_node(mapping: yaml.MappingNode) -> yaml.SequenceNode | None:
    for key, value in mapping.value:
        if key.value == "examples" and isinstance(value, yaml.SequenceNode):
            return value
    return None


def _insert_after(lines: list[str], node: yaml.SequenceNode, texts: list[str], where: str) -> None:
    """Insert items after the last item of a block sequence (lines is changed in place)."""
    if node.flow_style or not node.value:
        raise FaqError("its examples are not a block list ('- …' lines): add these by hand", where)
    last = node.value[-1]
    first_line = lines[last.start_mark.line]
    dash = first_line.find("- ")
    if dash < 0 or first_line[:dash].strip():
        raise FaqError("its examples are not one '- …' item per line: add these by hand", where)
    end = last.end_mark.line if last.end_mark.column else last.end_mark.line - 1
    newline = "\r\n" if first_line.endswith("\r\n") else "\n"
    if not lines[end].endswith(("\n", "\r")):
        lines[end] += newline
    lines[end + 1:end + 1] = [f"{first_line[:dash]}- {scalar(t)}{newline}" for t in texts]


def _with_examples(text: str, per_entry: dict[str, list[str]], fname: str) -> str:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = text.splitlines(keepends=True)
    places = []
    for item in root.value if isinstance(root, yaml.SequenceNode) else []:
        if not isinstance(item, yaml.MappingNode):
            continue
        ident = next((v.value for k, v in item.value if k.value == "id"), None)
        if ident in per_entry:
            node = _examples_node(item)
            if node is None:
                raise FaqError("has no examples list to add to", fname, ident)
            places.append((node, per_entry[ident], f"{fname}: entry {ident}"))
    for node, texts, where in sorted(places, key=lambda p: p[0].end_mark.line, reverse=True):  # bottom up
        _insert_after(lines, node, texts, where)
    return "".join(lines)


def _with_out_of_scope(text: str, texts: list[str]) -> str:
    if not text.strip():
        return "examples:\n" + "".join(f"  - {scalar(t)}\n" for t in texts)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = _examples_node(root) if isinstance(root, yaml.MappingNode) else None
    if node is None:
        raise FaqError("has no top-level examples list to add to", OUT_OF_SCOPE_FILE)
    lines = text.splitlines(keepends=True)
    _insert_after(lines, node, texts, OUT_OF_SCOPE_FILE)
    return "".join(lines)


def add_examples(directory: str | os.PathLike, per_entry: dict[str, list[str]],
                 out_of_scope: list[str]) -> list[Path]:
    """Append examples to their entries (and to out_of_scope.yaml); returns the files changed.

    Raises FaqError, changing nothing, when an entry is unknown or the result would not validate
    or not read back exactly as the files plus the new examples."""
    directory = Path(directory)
    before = load(directory)
    unknown = sorted(set(per_entry) - set(before.entries))
    if unknown:
        raise FaqError(f"no FAQ entry {', '.join(unknown)} in {directory}")
    by_file: dict[str, dict[str, list[str]]] = {}
    for faq_id, texts in per_entry.items():
        if texts:
            by_file.setdefault(before.entries[faq_id].file, {})[faq_id] = list(texts)
    new_texts: dict[str, str] = {}
    for fname, entries in by_file.items():
        new_texts[fname] = _with_examples((directory / fname).read_text(encoding="utf-8"), entries, fname)
    if out_of_scope:
        path = directory / OUT_OF_SCOPE_FILE
        new_texts[OUT_OF_SCOPE_FILE] = _with_out_of_scope(
            path.read_text(encoding="utf-8") if path.is_file() else "", list(out_of_scope))
    if not new_texts:
        return []
    _check(directory, new_texts, before, per_entry, out_of_scope)
    changed = []
    for fname, text in new_texts.items():  # each file replaced whole (a reader never sees half of one)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{fname}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        target = directory / fname
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
        changed.append(target)
    return changed


def _check(directory: Path, new_texts: dict[str, str], before, per_entry, out_of_scope) -> None:
    """Load the changed files in a copy of the directory: valid, and exactly the examples added."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / directory.name
        shutil.copytree(directory, copy)
        for fname, text in new_texts.items():
            (copy / fname).write_text(text, encoding="utf-8", newline="")
        after = load(copy)
    for faq_id, entry in before.entries.items():
        expected = entry.examples + tuple(per_entry.get(faq_id, ()))
        if after.entries[faq_id].model_dump(exclude={"examples"}) != entry.model_dump(exclude={"examples"}) or \
                after.entries[faq_id].examples != expected:
            raise FaqError("writing the new examples would change it in another way; nothing was written",
                           entry.file, faq_id)
    if after.out_of_scope != before.out_of_scope + tuple(out_of_scope) or after.entries.keys() != before.entries.keys():
        raise FaqError("writing the new examples would change other content; nothing was written", OUT_OF_SCOPE_FILE)
