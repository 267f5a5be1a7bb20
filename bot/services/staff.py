"""Staff accounts for the workbench: create, authenticate with lock-out and a per-address limit, manage.

Everything a second process needs (failure counts, lock-outs, attempts per address) is a row, so
the limits hold across gunicorn workers and restarts.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from bot import audit
from bot.clock import aware, now
from bot.models import LoginAttempt, StaffUser

ROLES = ("staff", "admin")
LOGIN_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{1,31}$")
MIN_PASSWORD = 10
KEEP_ATTEMPTS = timedelta(days=1)


@cache
def _dummy_hash() -> str:
    """Compared against when the login is unknown, so an unknown login costs the same time as a wrong
    password and timing does not reveal which logins exist. Made on first use: hashing at import
    delayed every start (gunicorn's master, `flask` commands) by 0.1–0.4 s."""
    return generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A staff account request that cannot be carried out (the message is for the admin)."""


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    outcome: str  # ok | invalid | locked | limited
    until: datetime | None = None


def limits(config) -> dict:
    return {"failures": int(config.get("LOGIN_MAX_FAILURES", 5)),
            "lock": timedelta(minutes=int(config.get("LOGIN_LOCK_MINUTES", 15))),
            "ip_failures": int(config.get("LOGIN_IP_LIMIT", 20)),
            "ip_window": timedelta(minutes=int(config.get("LOGIN_IP_WINDOW_MINUTES", 15)))}


def by_login(session, login: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.login == (login or "").strip().lower())).first()


def by_token(session, token: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.session_token == token)).first()


def colleagues(session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.role.desc(), StaffUser.login)))


def new_password() -> str:
    return secrets.token_urlsafe(12)


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符")
    return password


def create(session, login: str, name: str, role: str = "staff", password: str | None = None,
           actor: str = "cli") -> tuple[StaffUser, str]:
    """A new account; returns it with its password (generated when not given, shown once)."""
    login = (login or "").strip().lower()
    if not LOGIN_PATTERN.match(login):
        raise AccountError("登录名须为 2–32 位小写字母、数字或 . _ -，以字母开头")
    if role not in ROLES:
        raise AccountError(f"角色只能是 {' / '.join(ROLES)}")
    if by_login(session, login) is not None:
        raise AccountError(f"登录名 {login} 已存在")
    password = check_password(password) if password else new_password()
    user = StaffUser(login=login, name=(name or login).strip()[:64], role=role, active=True, failed_logins=0,
                     password_hash=generate_password_hash(password), session_token=secrets.token_hex(32))
    session.add(user)
    session.flush()
    audit.record(session, actor, "staff.create", "staff_user", user.id, login=login, role=role)
    return user, password


def address_limited(session, ip: str, config) -> bool:
    """Too many failed logins from this address lately (checked before spending time on a hash)."""
    rules = limits(config)
    return session.scalar(select(func.count(LoginAttempt.id)).where(
        LoginAttempt.ip == ip, LoginAttempt.success.is_(False),
        LoginAttempt.at >= now() - rules["ip_window"])) >= rules["ip_failures"]


def password_matches(session, login: str, password: str) -> bool:
    """Check the password (slow on purpose, ~0.1–0.2 s): callers do it before taking the write lock."""
    user = by_login(session, login)
    good = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    return bool(good and user is not None)


def settle_login(session, login: str, password_ok: bool, ip: str, config) -> LoginResult:
    """Decide a login attempt whose password was checked by `password_matches`, in the write
    transaction: refuse a locked account or a limited address, count failures, lock at the limit.
    Every attempt is a row (the per-address limit counts them in every process)."""
    rules, login = limits(config), (login or "").strip().lower()[:64]
    limited = address_limited(session, ip, config)
    user = by_login(session, login)
    locked = user is not None and user.locked_until is not None and aware(user.locked_until) > now()
    ok = password_ok and user is not None and user.active and not locked and not limited
    session.add(LoginAttempt(ip=ip, login=login, success=ok))
    # Attempts are only needed for the address window; keep a day of them for the record.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now() - max(rules["ip_window"], KEEP_ATTEMPTS)))
    if limited:
        return LoginResult(None, "limited", now() + rules["ip_window"])
    if locked:
        return LoginResult(None, "locked", aware(user.locked_until))
    if user is None or not user.active:
        return LoginResult(None, "invalid")
    if not password_ok:
        user.failed_logins += 1
        if user.failed_logins < rules["failures"]:
            return LoginResult(None, "invalid")
        user.locked_until, user.failed_logins = now() + rules["lock"], 0
        audit.record(session, f"staff:{user.login}", "staff.locked", "staff_user", user.id, ip=ip)
        return LoginResult(None, "locked", aware(user.locked_until))
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now()
    audit.record(session, f"staff:{user.login}", "staff.login", "staff_user", user.id, ip=ip)
    return LoginResult(user, "ok")


def set_password(session, user: StaffUser, password: str, actor: str) -> None:
    """A new password ends every session of the account (a new session token)."""
    user.password_hash = generate_password_hash(check_password(password))
    user.session_token, user.failed_logins, user.locked_until = secrets.token_hex(32), 0, None
    audit.record(session, actor, "staff.password", "staff_user", user.id)


def update(session, user: StaffUser, actor: str, *, role: str | None = None, active: bool | None = None,
           unlock: bool = False) -> None:
    """An admin changes a role, (de)activates an account or lifts a lock-out."""
    changes = {}
    if user.role == "admin" and user.active and (role == "staff" or active is False) and _admins(session) <= 1:
        raise AccountError("这是最后一个管理员账号，不能降级或停用")
    if role is not None and role != user.role:
        if role not in ROLES:
            raise AccountError(f"角色只能是 {' / '.join(ROLES)}")
        user.role, changes["role"] = role, role
    if active is not None and active != user.active:
        user.active, changes["active"] = active, active
        user.session_token = secrets.token_hex(32)  # a deactivated account is logged out everywhere
    if unlock and user.locked_until:
        user.locked_until, user.failed_logins, changes["unlocked"] = None, 0, True
    if changes:
        audit.record(session, actor, "staff.update", "staff_user", user.id, **changes)


def _admins(session) -> int:
    return session.scalar(select(func.count(StaffUser.id)).where(StaffUser.role == "admin", StaffUser.active.is_(True)))
