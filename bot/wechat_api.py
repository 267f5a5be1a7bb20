"""The WeChat API client: wechatpy underneath, one stable access token shared through the database.

wechatpy keeps its token per process and, on 40001, refetches it without a lock, so N processes
rotate each other's tokens (the most reported bug of WeChat SDKs). Here the token comes from the
stable-token endpoint, lives in the KeyValue table and is refreshed by one process at a time
(bot.tokens); 40164 and 45009 stop sending for every process (bot.wechat_stops).

API calls are made outside any write transaction: holding the SQLite write lock (or row locks)
during an HTTP call would stall the webhook.

https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/getStableAccessToken.html
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import urllib3
from flask import current_app
from urllib3.exceptions import ConnectTimeoutError, ProxyError, SSLError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot import wechat_stops
from bot.clock import now
from bot.tokens import TokenStore

log = logging.getLogger(__name__)
TOKEN_INVALID = (40001, 40014, 42001)  # refetch the token and repeat the call once
JSON = {"Content-Type": "application/json; charset=utf-8"}


class UnionWeChatClient(WeChatClient):
    """wechatpy's client (its API groups: client.message, client.menu …) on a configurable API
    base, with the token from bot.tokens.TokenStore and calls made with urllib3.

    wechatpy sends through requests; a send through it cost about 1.1 ms of CPU against 0.45 ms
    with urllib3 (bench/README.md), which caps how many messages two cores can send. JSON calls
    only (all the bot makes); proxy and CA bundle from the environment, as requests reads them.
    """

    def __init__(self, appid: str, secret: str, *, base_url: str, engine, force_per_day: int, timeout: float):
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL, self.engine = base_url, engine
        self.http = _pool(base_url)
        self.tokens = TokenStore(engine, self.access_token_key, force_per_day)
        self._memo: tuple[str, datetime] | None = None  # this client's copy; the database is the truth

    @property
    def access_token(self) -> str:
        if self._memo is None or self._memo[1] <= now():
            self._memo = self.tokens.get() or self.tokens.refresh(self.fetch_stable_token)
        return self._memo[0]

    def fetch_stable_token(self, force: bool) -> dict:
        """POST stable_token: the same token for every caller until it expires (force: a new one)."""
        return self._call("POST", self.API_BASE_URL + "stable_token", body={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": force})

    def fetch_access_token(self):  # wechatpy's name for it
        return self.fetch_stable_token(force=False)

    def _request(self, method, url_or_endpoint, **kwargs):
        """wechatpy's entry for every API call: the token added, refreshed once if WeChat refuses it."""
        url = url_or_endpoint if url_or_endpoint.startswith(("http://", "https://")) else \
            kwargs.get("api_base_url", self.API_BASE_URL) + url_or_endpoint
        params, data, processor = kwargs.get("params") or {}, kwargs.get("data"), kwargs.get("result_processor")
        try:
            token = self.access_token
            try:
                result = self._call(method, url, {**params, "access_token": token}, data)
            except WeChatClientException as exc:
                if exc.errcode not in TOKEN_INVALID:
                    raise
                log.info("WeChat refused the access token (%s); refreshing it once", exc.errcode)
                self._memo = self.tokens.refresh(self.fetch_stable_token, stale=token)
                result = self._call(method, url, {**params, "access_token": self._memo[0]}, data)
        except WeChatClientException as exc:
            if exc.errcode in (wechat_stops.IP_NOT_WHITELISTED, wechat_stops.DAILY_QUOTA):
                wechat_stops.stop(self.engine, exc.errcode, exc.errmsg)
            raise
        return processor(result) if processor else result

    def _call(self, method: str, url: str, params: dict | None = None, body=None) -> dict:
        """One HTTP call and its JSON answer; WeChat's errcode (or an HTTP error) raised as
        WeChatClientException, network errors as urllib3's (see deliver())."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        res = self.http.request(method.upper(), url, body=body, headers=JSON if body is not None else None,
                                timeout=self.timeout, retries=False, redirect=False)
        try:
            result = json.loads(res.data)
        except ValueError:
            result = None
        if res.status >= 400 or not isinstance(result, dict):
            raise WeChatClientException(None, f"HTTP {res.status}", client=self)
        if result.get("errcode"):
            raise WeChatClientException(int(result["errcode"]), result.get("errmsg", ""), client=self)
        return result


def _pool(base_url: str) -> urllib3.PoolManager:
    """Kept-alive connections, enough for a sender's concurrent calls (OUTBOX_CONCURRENCY)."""
    options = {"maxsize": 16, "ca_certs": os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")}
    parts = urlsplit(base_url)
    proxy = getproxies_environment().get(parts.scheme)
    if proxy and not proxy_bypass_environment(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def client() -> UnionWeChatClient:
    from bot.extensions import db

    cfg = current_app.config
    return UnionWeChatClient(cfg["WECHAT_APP_ID"], cfg["WECHAT_APP_SECRET"], base_url=cfg["WECHAT_API_BASE_URL"],
                             engine=db.engine, force_per_day=int(cfg["WECHAT_FORCE_REFRESH_PER_DAY"]),
                             timeout=float(cfg["WECHAT_API_TIMEOUT"]))


@dataclass
class Delivery:
    """What became of one send: ok | error (WeChat's errcode, or an HTTP status) | maybe (a read
    timeout or a connection dropped after the request went out: WeChat may have it) | not_sent
    (no connection was made)."""

    outcome: str
    errcode: int | None = None
    error: str = ""
    msgid: str | None = None


def deliver(api: UnionWeChatClient, route: str, body: dict) -> Delivery:
    """Send one message: route "custom" (customer-service text) or "template" (body as WeChat wants it).
    https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
    https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html"""
    try:
        result = api.post("message/custom/send" if route == "custom" else "message/template/send", data=body)
        return Delivery("ok", msgid=str(result.get("msgid") or "") or None)
    except WeChatClientException as exc:
        if exc.errcode is None:
            return Delivery("error", error=str(exc.errmsg))
        return Delivery("error", exc.errcode, f"{exc.errcode}: {exc.errmsg}")
    except urllib3.exceptions.HTTPError as exc:
        # No connection made (refused, connect timeout, TLS or proxy failure): WeChat never saw it.
        # A read timeout or a connection dropped after the request went out: it may have arrived.
        never = isinstance(exc, (ConnectTimeoutError, SSLError, ProxyError))
        return Delivery("not_sent" if never else "maybe", error=f"{type(exc).__name__}: {exc}")
