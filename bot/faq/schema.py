"""Pydantic models of the content files: faq/*.yaml entries, faq/regions.yaml, faq/out_of_scope.yaml.

The loader (bot.faq.loader) turns a validation error into a FaqError naming the file, the entry
id and the field, so `flask faq load` says exactly what to fix.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

FAQ_PREFIXES = ("legal.", "home_office.", "union.", "service.")


def _as_text(value):
    """Keywords such as 12351 or 996 arrive from YAML as numbers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text), Field(min_length=1)]


def _text_list(value):
    if isinstance(value, str):
        raise ValueError("must be a list of strings, not one string")
    return value


class Entry(BaseModel):
    """One routing target's content. legal.* need a basis; FAQ and small-talk entries an answer."""
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str
    title: Text
    keywords: Annotated[tuple[Text, ...], BeforeValidator(_text_list)] = ()
    examples: Annotated[tuple[Text, ...], BeforeValidator(_text_list)] = ()
    answer: str | None = None
    basis: str | None = None
    next: Annotated[tuple[Text, ...], BeforeValidator(_text_list)] = ()
    file: str = ""

    @field_validator("answer", "basis", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a string")
        return (value or "").strip() or None

    def required(self) -> tuple[str, ...]:
        if self.id.startswith("legal."):
            return ("keywords", "examples", "answer", "basis")
        if self.id.startswith(FAQ_PREFIXES) or self.id.startswith("smalltalk."):
            return ("keywords", "examples", "answer")
        return ("keywords", "examples")

    def missing(self) -> list[str]:
        return [name for name in self.required() if not getattr(self, name)]


class RegionValue(BaseModel):
    """A regional figure or service detail, with where it comes from.

    `placeholder: true` marks sample data the deployment has not replaced yet (an address, office
    hours): it is never shown to workers, `flask faq load` warns, production start-up refuses it.
    `statistic` and `year` name the published series a figure belongs to (e.g. the average wage
    used for the severance cap), so the right series is used and updated."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Text
    valid_from: date | None = None
    source: str = ""
    statistic: str | None = None
    year: int | None = None
    placeholder: bool = False


class Regions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = ""
    values: dict[str, RegionValue] = {}


class OutOfScope(BaseModel):
    """faq/out_of_scope.yaml: messages the bot must not answer with an FAQ, and `contexts`, words
    that move a question away from the worker's own work (another country, a game, a pet …)."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    examples: Annotated[tuple[Text, ...], BeforeValidator(_text_list)] = ()
    contexts: dict[str, Annotated[tuple[Text, ...], BeforeValidator(_text_list)]] = {}
    own_work: Annotated[tuple[Text, ...], BeforeValidator(_text_list)] = ()
