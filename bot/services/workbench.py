"""Workbench settings from config/workbench.yaml: response targets per hand-off reason, reject reasons."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from flask import current_app

SETTINGS_FILE = Path("config") / "workbench.yaml"  # under the app root; WORKBENCH_FILE overrides
REASONS = ("asked", "not_helpful", "flagged_checkin", "invalid_input")


class SettingsError(ValueError):
    """The workbench settings file is missing or malformed."""


@dataclass(frozen=True)
class Target:
    """How soon staff should first answer a hand-off of one reason, and how soon close it."""

    first_response: timedelta
    resolution: timedelta


def settings() -> dict:
    """The parsed settings file (re-read when it changes, so no restart is needed)."""
    path = Path(current_app.config.get("WORKBENCH_FILE") or Path(current_app.root_path) / SETTINGS_FILE)
    try:
        return _load(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read workbench settings ({exc})") from exc


def targets() -> dict[str, Target]:
    return settings()["targets"]


def reject_reasons() -> list[str]:
    return settings()["reject_reasons"]


@lru_cache(maxsize=4)
def _load(path: str, _mtime: int) -> dict:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    raw = data.get("targets")
    if not isinstance(raw, dict) or set(raw) != set(REASONS):
        raise SettingsError(f"{path}: 'targets' must have exactly these reasons: {', '.join(REASONS)}")
    found = {}
    for reason, target in raw.items():
        try:
            found[reason] = Target(timedelta(minutes=float(target["first_response_minutes"])),
                                   timedelta(hours=float(target["resolution_hours"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"{path}: targets.{reason} needs first_response_minutes and resolution_hours "
                                f"as numbers ({exc})") from exc
    reasons = data.get("reject_reasons") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) and r.strip() for r in reasons):
        raise SettingsError(f"{path}: 'reject_reasons' must be a list of sentences")
    return {"targets": found, "reject_reasons": [r.strip() for r in reasons]}
