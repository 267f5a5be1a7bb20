"""Production refuses unsafe settings: every rule checked at start-up, every problem named at once."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from cryptography.fernet import Fernet

DEV_SECRET_KEY = "dev-secret-change-me"  # app.SETTINGS' zero-setup defaults, public in the README
DEV_WECHAT_TOKEN = "dev-token"
MIN_SECRET_CHARS = 32
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
NEW_FERNET_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"

# A check reads the settings and returns what is wrong and what to set instead, or None.
Check = Callable[[Mapping], "str | None"]


class UnsafeSettings(RuntimeError):
    """ENV=production with settings that would expose workers' data; the message lists them all."""


def secret_key(config: Mapping) -> str | None:
    key = config.get("SECRET_KEY") or ""
    if key == DEV_SECRET_KEY:
        return f"SECRET_KEY is the development default. Set a random one: {NEW_SECRET}"
    if len(key) < MIN_SECRET_CHARS:
        return f"SECRET_KEY has {len(key)} characters; use at least {MIN_SECRET_CHARS}: {NEW_SECRET}"
    return None


def data_key(config: Mapping) -> str | None:
    """ID numbers are encrypted with DATA_KEY; outside production it is derived from SECRET_KEY."""
    key = config.get("DATA_KEY") or ""
    if not key:
        return (f"DATA_KEY is not set (it would be derived from SECRET_KEY). Set a Fernet key: {NEW_FERNET_KEY} "
                "and keep a copy safe: without it the stored ID numbers cannot be read")
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return f"DATA_KEY is not a Fernet key (32 bytes in url-safe base64, 44 characters). Make one: {NEW_FERNET_KEY}"
    return None


def wechat_token(config: Mapping) -> str | None:
    """With the public default token anyone can sign messages as any worker."""
    if (config.get("WECHAT_TOKEN") or DEV_WECHAT_TOKEN) == DEV_WECHAT_TOKEN:
        return "WECHAT_TOKEN is the development default. Set the Token entered under 服务器配置 → 令牌"
    return None


def regional_data(config: Mapping) -> str | None:
    """Sample service data (an address marked `placeholder: true` in faq/regions.yaml) must never
    reach workers as real: the deployment sets its own first."""
    from bot import faq

    problems = faq.placeholder_problems(config.get("FAQ_DIR") or None, settings=config)
    return "; ".join(problems) if problems else None


def handoff_to(config: Mapping) -> str | None:
    """A misspelt HANDOFF_TO would silently send 转人工 somewhere staff do not look."""
    if (config.get("HANDOFF_TO") or "workbench") not in ("workbench", "wechat_kf"):
        return f"HANDOFF_TO is {config.get('HANDOFF_TO')!r}: set workbench (/staff) or wechat_kf (WeChat's 客服 tool)"
    return None


PRODUCTION_CHECKS: list[Check] = [secret_key, data_key, wechat_token, regional_data, handoff_to]


def check_production(config: Mapping) -> None:
    """Raise UnsafeSettings naming every problem when ENV=production; nothing to check otherwise."""
    if config.get("ENV") != "production":
        return
    problems = [problem for check in PRODUCTION_CHECKS if (problem := check(config))]
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise UnsafeSettings(f"ENV=production refuses to start with unsafe settings:\n{listing}\n"
                             "Set them in the environment or in .env next to app.py (see README, Production).")
