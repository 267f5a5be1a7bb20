"""Pydantic models of the deployment's configuration files: config/legal_aid_slots.yaml (the
lawyers' weekly schedule) and config/membership.yaml (districts, industries, which union handles
an application). A mistake is reported with the entry and field it is in.
"""
from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationError,
                      field_validator, model_validator)

WEEKDAY_NAMES = "一二三四五六日"
UNION_ANSWERS = ("yes", "no", "unsure")
Name = Annotated[str, Field(min_length=1), BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]


def _weekday(value) -> int:
    """1–7 (1 = Monday) or 周一…周日 / 星期天 → 0–6."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value - 1
    text = str(value).strip().removeprefix("星期").removeprefix("周")
    if text in ("天", "日"):
        return 6
    if len(text) == 1 and text in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(text)
    raise ValueError(f"weekday must be 1–7 or 周一…周日, not {value!r}")


def _time(value) -> time:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 14:00 as 840 (sexagesimal minutes)
        return time(value // 60, value % 60)
    return time.fromisoformat(str(value).strip())


class WeeklySlot(BaseModel):
    """One weekly consultation slot; weekday 0 = Monday."""
    model_config = ConfigDict(frozen=True, extra="forbid")

    weekday: Annotated[int, BeforeValidator(_weekday)]
    start: Annotated[time, BeforeValidator(_time)]
    end: Annotated[time, BeforeValidator(_time)]
    capacity: int = Field(default=3, ge=1)
    place: Name
    mode: Literal["in_person", "online"] = "in_person"  # 现场 or a video consultation

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError("needs start < end")
        return self


class LegalAidSchedule(RootModel[list[WeeklySlot]]):
    pass


class MembershipOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    districts: list[Name] = Field(min_length=1)
    industries: list[Name] = Field(min_length=1)
    routes: dict[str, Name]

    @field_validator("routes")
    @classmethod
    def _all_answers(cls, routes):
        if set(routes) != set(UNION_ANSWERS):
            raise ValueError(f"must map exactly {', '.join(UNION_ANSWERS)} to a union")
        return routes


def problem(exc: ValidationError, path) -> str:
    """The first validation error as 'FILE: entry N: field: message' (entries counted from 1)."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = [f"entry {loc.pop(0) + 1}"] if loc and isinstance(loc[0], int) else []
    field = ".".join(str(p) for p in loc)
    message = err["msg"].removeprefix("Value error, ")
    return ": ".join([str(path), *where, *([f"'{field}'"] if field else []), message])


def read(path: str | Path, model):
    """Parse and validate one file; ValueError (with `problem()`'s message) when it is wrong."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        return model.model_validate(data if data is not None else ([] if model is LegalAidSchedule else {}))
    except ValidationError as exc:
        raise ValueError(problem(exc, path)) from None
