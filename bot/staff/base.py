"""The workbench's blueprint and its guards: login, roles, CSRF, the write lock (areas in sibling modules).

Every page needs a logged-in account except the login page; admin pages refuse staff with 403.
A POST takes the database write lock before anything else reads (bot.storage.write_transaction),
so the whole action is one transaction, committed by the view.
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from bot.extensions import csrf, db, login_manager
from bot.models import StaffUser
from bot.services import staff as staff_service
from bot.staff import display
from bot.storage import write_transaction

bp = Blueprint("staff", __name__, url_prefix="/staff")
PUBLIC = {"staff.login"}
UNLOCKED = {"staff.login"}  # checks the password (~0.2 s) before it takes the write lock itself


@bp.record_once
def _template_helpers(state) -> None:
    display.init_app(state.app)


def init_login(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    login_manager.login_message = "请先登录工作台。"
    login_manager.session_protection = "basic"
    csrf.init_app(app)


@login_manager.user_loader
def load_user(token: str) -> StaffUser | None:
    user = staff_service.by_token(db.session, token)
    return user if user is not None and user.active else None


@bp.before_request
def guard():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if current_app.config.get("WTF_CSRF_ENABLED", True):  # Flask-WTF's switch (only benchmarks turn it off)
            csrf.protect()  # forms send the token as a field, htmx as the X-CSRFToken header
        if request.endpoint not in UNLOCKED:
            write_transaction(db.session)
    if request.endpoint not in PUBLIC and not current_user.is_authenticated:
        if request.headers.get("HX-Request"):  # a page polling after its session ended: go to the login page
            return "", 401, {"HX-Redirect": url_for("staff.login")}
        return login_manager.unauthorized()
    return None


@bp.after_request
def no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")  # pages carry personal data
    return response


def me() -> StaffUser:
    return current_user._get_current_object()


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not me().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def actor() -> str:
    return f"staff:{me().login}"


@bp.errorhandler(CSRFError)
def csrf_error(error):
    return render_template("staff/error.html", title="页面已过期",
                           message="页面已过期或来源不明，操作没有执行。请返回上一页，刷新后再试。"), 400


@bp.errorhandler(403)
def forbidden(error):
    return render_template("staff/error.html", title="没有权限", message="这个页面只有管理员可以使用。"), 403


@bp.errorhandler(404)
def not_found(error):
    return render_template("staff/error.html", title="找不到", message="没有找到这条记录，可能已被删除。"), 404
