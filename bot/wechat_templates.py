"""Template messages (模板消息) per outbox purpose: config/wechat_templates.yaml, checked and filled.

A template message is what the outbox falls back to when a customer-service message cannot be sent
(the worker's 48-hour window is closed or its quota used up). Since May 2023 WeChat shows no
`first` / `remark` and checks every value by its keyword type (thing ≤ 20 characters, no line
breaks, …); a value that breaks the rule fails the whole send with 47003. So values are checked
and shortened here, before sending: free text (thing, name, phrase) is cut with "…", and a value
of a strict type (number, time, …) that does not fit means the template does not fit.
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.models import OUTBOX_PURPOSES

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "config" / "wechat_templates.yaml"
# Keyword type → most characters WeChat accepts; the types in SHORTEN may be cut with an ellipsis.
LIMITS = {"thing": 20, "name": 20, "phrase": 5, "const": 20, "character_string": 32, "number": 32, "letter": 32,
          "symbol": 5, "phone_number": 17, "car_number": 8, "amount": 11, "time": 20, "date": 20}
SHORTEN = {"thing", "name", "phrase", "const"}
KEYWORD = r"^[a-z_]+[0-9]+$"  # thing1, time2, character_string3 …


class TemplatesError(ValueError):
    """The templates file is not valid; the message names the file and the entry."""


class Spec(BaseModel):
    """One template: its id in the official account and how to fill each keyword."""

    model_config = ConfigDict(extra="forbid")
    template_id: str = ""
    url: str | None = None
    fields: dict[Annotated[str, Field(pattern=KEYWORD)], str] = {}

    @field_validator("fields")
    @classmethod
    def placeholders_parse(cls, fields: dict[str, str]) -> dict[str, str]:
        for key, pattern in fields.items():
            try:
                list(string.Formatter().parse(pattern))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
            if LIMITS.get(_type(key)) is None:
                raise ValueError(f"{key}: unknown keyword type {_type(key)!r} (known: {', '.join(sorted(LIMITS))})")
        return fields

    @property
    def configured(self) -> bool:
        return bool(self.template_id.strip())


class Templates(BaseModel):
    """The whole file: the short notice sent when a message is parked, and one template per purpose."""

    model_config = ConfigDict(extra="forbid")
    notice: Spec = Spec()
    purposes: dict[str, Spec] = {}

    @field_validator("purposes")
    @classmethod
    def known_purposes(cls, purposes: dict[str, Spec]) -> dict[str, Spec]:
        unknown = set(purposes) - set(OUTBOX_PURPOSES)
        if unknown:
            raise ValueError(f"unknown purposes {sorted(unknown)}; known: {', '.join(OUTBOX_PURPOSES)}")
        return purposes

    def for_purpose(self, purpose: str) -> Spec | None:
        spec = self.purposes.get(purpose)
        return spec if spec is not None and spec.configured else None


_cache: dict[str, tuple[float, Templates]] = {}  # path → (mtime, parsed): a file's parse, not state


def load(config) -> Templates:
    """The templates of WECHAT_TEMPLATES_FILE (read again when the file changes)."""
    path = Path(config.get("WECHAT_TEMPLATES_FILE") or DEFAULT_FILE)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise TemplatesError(f"{path}: file not found (set WECHAT_TEMPLATES_FILE)") from None
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        templates = Templates.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplatesError(f"{path}: {exc}") from None
    _cache[str(path)] = (mtime, templates)
    return templates


@dataclass(frozen=True)
class Filled:
    template_id: str
    data: dict[str, dict[str, str]]
    url: str | None


def fill(spec: Spec, values: dict) -> Filled | None:
    """The template's data from `values` (the outbox payload), every value made valid; None when
    the template does not fit (a placeholder without a value, a strict value too long)."""
    data = {}
    for key, pattern in spec.fields.items():
        try:
            raw = pattern.format_map(dict(values))  # a missing name raises KeyError: no hole in the message
        except (KeyError, IndexError, ValueError):
            return None
        value = fit(key, raw)
        if value is None:
            return None
        data[key] = {"value": value}
    return Filled(spec.template_id, data, spec.url or None)


def fit(key: str, value) -> str | None:
    """One keyword's value as WeChat accepts it: one line, within its type's limit; None if it cannot be."""
    kind = _type(key)
    limit = LIMITS.get(kind, 20)
    text = re.sub(r"\s+", " ", str(value)).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if kind in SHORTEN else None


def fit_data(data: dict) -> dict | None:
    """Check and shorten the data of a template row queued as such (kind="template")."""
    result = {}
    for key, item in (data or {}).items():
        value = fit(key, item.get("value", "") if isinstance(item, dict) else item)
        if value is None:
            return None
        result[key] = {**(item if isinstance(item, dict) else {}), "value": value}
    return result


def _type(key: str) -> str:
    return re.sub(r"[0-9]+$", "", key)

