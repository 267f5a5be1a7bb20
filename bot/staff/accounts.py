"""Log in and out, change one's own password, and (admins) manage staff accounts."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from bot import audit
from bot.clock import LOCAL_TZ
from bot.extensions import db
from bot.models import StaffUser
from bot.services import staff as accounts
from bot.staff.base import actor, admin_required, bp, me
from bot.staff.forms import LoginForm, PasswordForm, StaffCreateForm, StaffUpdateForm
from bot.storage import write_transaction

REFUSED = {"invalid": "登录名或密码不正确。",
           "locked": "密码错误次数过多，账号已锁定到 {until}。请稍后再试，或请管理员解锁。",
           "limited": "这台电脑登录失败次数过多，请 {until} 以后再试。"}


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        ip = request.remote_addr or "?"
        good = (not accounts.address_limited(db.session, ip, current_app.config)
                and accounts.password_matches(db.session, form.login.data, form.password.data))
        db.session.rollback()  # the hash was checked without the write lock; now take it for the counters
        write_transaction(db.session)
        result = accounts.settle_login(db.session, form.login.data, good, ip, current_app.config)
        db.session.commit()
        if result.user is not None:
            session.permanent = True
            login_user(result.user)
            return redirect(_safe_next() or url_for("staff.inbox"))
        until = result.until.astimezone(LOCAL_TZ).strftime("%H:%M") if result.until else ""
        flash(REFUSED[result.outcome].format(until=until), "error")
    return render_template("staff/login.html", form=form)


def _safe_next() -> str | None:
    target = request.args.get("next") or ""
    return target if target.startswith("/staff") and "//" not in target and "\\" not in target else None


@bp.post("/logout")
def logout():
    audit.record(db.session, actor(), "staff.logout", "staff_user", me().id)
    db.session.commit()
    logout_user()
    flash("已退出登录。", "info")
    return redirect(url_for("staff.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        if not accounts.password_matches(db.session, me().login, form.current.data):
            flash("当前密码不正确。", "error")
        else:
            accounts.set_password(db.session, me(), form.new.data, actor())
            db.session.commit()
            login_user(me())  # the new session token keeps this browser logged in
            flash("密码已修改，其他设备上的登录已失效。", "info")
            return redirect(url_for("staff.inbox"))
    return render_template("staff/password.html", form=form)


@bp.get("/accounts")
@admin_required
def staff_list():
    users = accounts.colleagues(db.session)
    return render_template("staff/accounts.html", users=users, form=StaffCreateForm(),
                           forms={u.id: StaffUpdateForm(obj=u, prefix=f"u{u.id}") for u in users})


@bp.post("/accounts")
@admin_required
def staff_create():
    form = StaffCreateForm()
    if form.validate_on_submit():
        try:
            user, password = accounts.create(db.session, form.login.data, form.name.data, form.role.data,
                                             form.password.data or None, actor=actor())
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(f"已创建账号 {user.login}。初始密码：{password}（只显示这一次，请当面告知本人）", "info")
    else:
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for("staff.staff_list"))


@bp.post("/accounts/<int:user_id>")
@admin_required
def staff_update(user_id: int):
    user = db.get_or_404(StaffUser, user_id)
    form = StaffUpdateForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("staff.staff_list"))
    try:
        accounts.update(db.session, user, actor(), role=form.role.data, active=form.active.data,
                        unlock=form.unlock.data)
        if form.password.data:
            accounts.set_password(db.session, user, form.password.data, actor())
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"账号 {user.login} 已更新。", "info")
    return redirect(url_for("staff.staff_list"))

