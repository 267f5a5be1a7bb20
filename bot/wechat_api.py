"""The WeChat API client (wechatpy), with the access token kept in the database, not in memory.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError
from wechatpy import WeChatClient
from wechatpy.session import SessionStorage

from bot.clock import aware, now
from bot.extensions import db
from bot.models import KeyValue

TOKEN_MARGIN = timedelta(seconds=120)  # refresh a little before WeChat expires the token


class DatabaseStorage(SessionStorage):
    """wechatpy session storage on the KeyValue table, shared by every worker process."""

    def get(self, key, default=None):
        row = db.session.get(KeyValue, key)
        if row is None or (row.expires_at and aware(row.expires_at) - TOKEN_MARGIN <= now()):
            return default
        return row.value

    def set(self, key, value, ttl=None):
        value, expires_at = str(value), now() + timedelta(seconds=ttl) if ttl else None
        row = db.session.get(KeyValue, key)
        if row is None:
            # Two senders may fetch a token at once. On SQLite the write lock keeps them apart; on
            # PostgreSQL the second INSERT waits for the first and then violates the primary key:
            # in a savepoint, so only the INSERT is undone and the newer token overwrites the row.
            try:
                with db.session.begin_nested():
                    db.session.add(KeyValue(key=key, value=value, expires_at=expires_at))
                return
            except IntegrityError:
                row = db.session.get(KeyValue, key)
        row.value, row.expires_at = value, expires_at
        db.session.flush()

    def delete(self, key):
        row = db.session.get(KeyValue, key)
        if row is not None:
            db.session.delete(row)


class UnionWeChatClient(WeChatClient):
    """wechatpy's client with a configurable API base, used for the token fetch as well."""

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.API_BASE_URL + "token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


def client() -> UnionWeChatClient:
    cfg = current_app.config
    api = UnionWeChatClient(cfg["WECHAT_APP_ID"], cfg["WECHAT_APP_SECRET"], session=DatabaseStorage(), timeout=10)
    api.API_BASE_URL = cfg["WECHAT_API_BASE_URL"]
    return api
