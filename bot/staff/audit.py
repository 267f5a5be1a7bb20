"""The audit log, for admins: who did what, when, to which record (newest first, filterable)."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from bot.extensions import db
from bot.models import AuditLog
from bot.staff.base import admin_required, bp

PAGE = 200


@bp.get("/audit")
@admin_required
def audit_log():
    query = select(AuditLog)
    actor, action, target = (request.args.get(k, "").strip() for k in ("actor", "action", "target"))
    if actor:
        query = query.where(AuditLog.actor.contains(actor, autoescape=True))
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True))
    if target:
        kind, _, ident = target.partition(":")
        query = query.where(AuditLog.target_type == kind)
        if ident:
            query = query.where(AuditLog.target_id == ident)
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditLog.id < before)
    rows = db.session.scalars(query.order_by(AuditLog.id.desc()).limit(PAGE)).all()
    args = request.args.to_dict()
    return render_template("staff/audit.html", rows=rows, args=args,
                           more={**args, "before": rows[-1].id} if len(rows) == PAGE else None)
