"""A fake WeChat API server on 127.0.0.1 for tests, benchmarks and local runs (never production).

It speaks the few endpoints the bot uses, as WeChat documents them, keeps every call, and can be
told to fail the way WeChat fails:

- tokens: GET token (classic) and POST stable_token
  https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/getStableAccessToken.html
- POST message/custom/send (customer-service messages)
  https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
- POST message/template/send, deduplicated on client_msg_id like WeChat, values checked like
  WeChat checks them since May 2023 (47003 when too long or with a line break)
  https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
- POST menu/create
  https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html

Control endpoints (also callable in-process on FakeWeChat): GET /_fake/sent[?touser=&after=N],
GET /_fake/calls[?path=], GET /_fake/stats, POST /_fake/faults (one fault object or
{"faults": [...]}), DELETE /_fake/faults, POST /_fake/release, POST /_fake/expire_tokens,
POST /_fake/reset.

    python -m bot.fake_wechat --port 8900       # then WECHAT_API_BASE_URL=http://127.0.0.1:8900/cgi-bin/
"""
from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    40037: "invalid template_id",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47003: "argument invalid! data.value invalid",
    40016: "invalid button size",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
}
# Template keyword types and their value limits in characters (WeChat's table, May 2023).
TEMPLATE_LIMITS = {"thing": 20, "name": 20, "phrase": 5, "character_string": 32, "number": 32, "letter": 32,
                   "symbol": 5, "phone_number": 17, "car_number": 8, "amount": 11, "time": 20, "date": 20,
                   "const": 20}
HOLD_TIMEOUT = 60.0  # a held request gives up by itself, so a forgotten release never hangs a test


@dataclass
class Fault:
    """How to answer the matching calls: an errcode, a delay, a dropped connection or a hold.

    `slow`: seconds the answer is late (the call itself is carried out at once, as when WeChat
    accepts a message and answers slowly). `count` calls (the next N), or a `share` of calls drawn
    with the server's seeded randomness.
    `drop` / `hold`: "before" WeChat accepts the call (nothing recorded) or "after" (recorded
    as delivered, then the connection is closed / the answer waits for release()).
    `path` is a substring of the endpoint ("message/" by default: both message sends).
    """

    errcode: int | None = None
    errmsg: str | None = None
    slow: float = 0.0
    drop: str | None = None
    hold: str | None = None
    count: int | None = 1
    share: float | None = None
    path: str = "message/"
    touser: str | None = None

    def __post_init__(self):
        if self.share is not None:
            self.count = None
        if self.drop not in (None, "before", "after") or self.hold not in (None, "before", "after"):
            raise ValueError("drop / hold must be 'before' or 'after'")


@dataclass
class Token:
    value: str
    kind: str  # classic | stable
    expires_at: float
    revoked: bool = False


@dataclass
class State:
    calls: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    stable: str | None = None  # the current stable token
    template_keys: dict[tuple[str, str], int] = field(default_factory=dict)
    token_fetches: int = 0
    menu: dict | None = None


class FakeWeChat:
    """The server; a context manager for tests (`with FakeWeChat() as wx: ... wx.url`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 0, token_ttl: int = 7200):
        self.host, self.port, self.token_ttl = host, port, token_ttl
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.state = State()
        self.held_now = 0
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> FakeWeChat:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.block_on_close = False  # keep-alive threads are shut down in stop()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            with self.lock:
                for conn in list(self._connections):
                    _shutdown(conn)
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base to put in WECHAT_API_BASE_URL."""
        return f"http://{self.host}:{self.port}/cgi-bin/"

    # -- in-process control -------------------------------------------------------------------
    def fault(self, errcode: int | None = None, **kw) -> Fault:
        f = Fault(errcode=errcode, **kw)
        with self.lock:
            self.state.faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self.lock:
            self.state.faults.clear()

    def release(self) -> None:
        """Let held requests go on (and hold new ones again)."""
        self.released.set()

    def held(self) -> int:
        return self.held_now

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.state.tokens.values():
                token.expires_at = 0

    def reset(self) -> None:
        self.release()
        with self.lock:
            self.state = State()

    def calls(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [dict(c) for c in self.state.calls if path is None or path in c["path"]]

    def sent(self, touser: str | None = None, after: int = 0) -> list[dict]:
        """Messages WeChat accepted (a template deduplicated by client_msg_id counts once)."""
        with self.lock:
            return [dict(m) for m in self.state.sent if (touser is None or m["touser"] == touser) and m["n"] > after]

    @property
    def token_fetches(self) -> int:
        return self.state.token_fetches

    @property
    def menu(self) -> dict | None:
        return self.state.menu

    def stats(self) -> dict:
        with self.lock:
            return {"calls": len(self.state.calls), "sent": len(self.state.sent),
                    "token_fetches": self.state.token_fetches, "held": self.held_now,
                    "faults": [asdict(f) for f in self.state.faults]}

    # -- WeChat ---------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[dict | None, Fault | None]:
        """Answer one API call: (JSON answer, the fault that applies). None as answer: drop."""
        endpoint = path.removeprefix("/cgi-bin/")
        touser = (body or {}).get("touser")
        with self.lock:
            self._seq += 1
            call = {"n": self._seq, "method": method, "path": endpoint, "token": query.get("access_token"),
                    "query": query, "body": body, "at": time.time(), "touser": touser, "errcode": None}
            self.state.calls.append(call)
            fault = self._take_fault(endpoint, touser)
            if fault is not None:
                call["fault"] = ",".join(f"{k}={v}" for k, v in (("errcode", fault.errcode), ("slow", fault.slow),
                                                                  ("drop", fault.drop), ("hold", fault.hold)) if v)
        return call, fault

    def answer(self, call: dict, fault: Fault | None) -> dict:
        endpoint, body = call["path"], call["body"] or {}
        with self.lock:
            if fault is not None and fault.errcode is not None:
                result = _error(fault.errcode, fault.errmsg)
            elif endpoint == "token":
                result = self._issue("classic", force=True)
            elif endpoint == "stable_token":
                result = self._issue("stable", force=bool(body.get("force_refresh")))
            else:
                result = self._check_token(call["token"]) or self._api(endpoint, body, call["n"])
            call["errcode"] = result.get("errcode", 0)
        return result

    def _take_fault(self, endpoint: str, touser: str | None) -> Fault | None:
        for f in self.state.faults:
            if f.path not in endpoint or (f.touser and f.touser != touser):
                continue
            if f.share is not None:
                if self.random.random() < f.share:
                    return f
                continue
            f.count -= 1
            if f.count <= 0:
                self.state.faults.remove(f)
            return f
        return None

    def _issue(self, kind: str, force: bool) -> dict:
        self.state.token_fetches += 1
        current = self.state.tokens.get(self.state.stable) if kind == "stable" else None
        if current is not None and not force and current.expires_at > time.time() and not current.revoked:
            return {"access_token": current.value, "expires_in": int(current.expires_at - time.time())}
        if current is not None:
            current.revoked = True  # force_refresh: the previous stable token stops working at once
        value = f"{kind.upper()}-{len(self.state.tokens) + 1}-{secrets.token_hex(4)}"
        self.state.tokens[value] = Token(value, kind, time.time() + self.token_ttl)
        if kind == "stable":
            self.state.stable = value
        return {"access_token": value, "expires_in": self.token_ttl}

    def _check_token(self, value: str | None) -> dict | None:
        if not value:
            return _error(41001)
        token = self.state.tokens.get(value)
        if token is None or token.revoked:
            return _error(40001)
        if token.expires_at <= time.time():
            return _error(42001)
        return None

    def _api(self, endpoint: str, body: dict, n: int) -> dict:
        if endpoint == "message/custom/send":
            content = (body.get("text") or {}).get("content")
            self.state.sent.append({"n": n, "touser": body.get("touser"), "msgtype": body.get("msgtype"),
                                    "content": content, "at": time.time()})
            return _error(0)
        if endpoint == "message/template/send":
            return self._template(body, n)
        if endpoint == "menu/create":
            if not _menu_ok(body):
                return _error(40016)
            self.state.menu = body
            return _error(0)
        return {"errcode": 40066, "errmsg": "invalid url"}

    def _template(self, body: dict, n: int) -> dict:
        if not body.get("template_id"):
            return _error(40037)
        for key, item in (body.get("data") or {}).items():
            value = str((item or {}).get("value", ""))
            limit = TEMPLATE_LIMITS.get(re.sub(r"\d+$", "", key), 20)
            if len(value) > limit or "\n" in value or "\r" in value:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value invalid"}
        dedupe = (body.get("touser"), body.get("client_msg_id"))
        if dedupe[1] and dedupe in self.state.template_keys:
            return {"errcode": 0, "errmsg": "ok", "msgid": self.state.template_keys[dedupe]}
        msgid = 1_000_000 + n
        if dedupe[1]:
            self.state.template_keys[dedupe] = msgid
        self.state.sent.append({"n": n, "touser": body.get("touser"), "msgtype": "template", "msgid": msgid,
                                "template_id": body.get("template_id"), "data": body.get("data"),
                                "url": body.get("url"), "client_msg_id": dedupe[1], "at": time.time()})
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def control(self, method: str, path: str, query: dict, body) -> dict:
        """The /_fake/ endpoints."""
        if method == "GET" and path == "/_fake/sent":
            return {"sent": self.sent(query.get("touser"), int(query.get("after") or 0))}
        if method == "GET" and path == "/_fake/calls":
            return {"calls": self.calls(query.get("path"))}
        if method == "GET" and path == "/_fake/stats":
            return self.stats()
        if method == "POST" and path == "/_fake/faults":
            specs = body.get("faults", [body]) if isinstance(body, dict) else body
            return {"faults": [asdict(self.fault(**spec)) for spec in specs]}
        if method == "DELETE" and path == "/_fake/faults":
            self.clear_faults()
            return {"ok": True}
        actions = {"/_fake/release": self.release, "/_fake/expire_tokens": self.expire_tokens,
                   "/_fake/reset": self.reset}
        if method == "POST" and path in actions:
            actions[path]()
            return {"ok": True}
        raise LookupError(path)

    def wait_held(self, timeout: float = HOLD_TIMEOUT) -> bool:
        """Block until a request is being held (for tests that act while a call is under way)."""
        deadline = time.monotonic() + timeout
        while self.held_now == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def _error(code: int, errmsg: str | None = None) -> dict:
    return {"errcode": code, "errmsg": errmsg or ("ok" if code == 0 else ERRMSG.get(code, "error"))}


def _menu_ok(body: dict) -> bool:
    buttons = body.get("button") or []
    if not 1 <= len(buttons) <= 3:
        return False
    for b in buttons:
        subs = b.get("sub_button") or []
        if len(subs) > 5 or len(str(b.get("name", "")).encode()) > 16:
            return False
        if any(len(str(s.get("name", "")).encode()) > 60 for s in subs):
            return False
    return True


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the WeChat API and requests' Session use
    wbufsize = 64 * 1024  # buffered: headers and body leave in one send
    server_fake: FakeWeChat

    def setup(self):
        super().setup()
        # Without TCP_NODELAY a keep-alive client may wait ~40 ms for an answer (Nagle's algorithm
        # meeting delayed ACKs).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server_fake.lock:
            self.server_fake._connections.add(self.connection)

    def finish(self):
        with self.server_fake.lock:
            self.server_fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, *args):  # quiet: the calls are recorded instead
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._json(200, {"errcode": 47001, "errmsg": "data format error"})
        fake = self.server_fake
        if parts.path.startswith("/_fake/"):
            try:
                return self._json(200, fake.control(method, parts.path, query, body or {}))
            except (LookupError, TypeError, ValueError) as exc:
                return self._json(404 if isinstance(exc, LookupError) else 400, {"error": str(exc)})
        call, fault = fake.handle(method, parts.path, query, body)
        if fault is not None and "before" in (fault.drop, fault.hold):
            if fault.hold:
                self._hold()
            return self._drop()
        result = fake.answer(call, fault)
        if fault is not None and fault.slow:  # done, answered late: a caller that gave up cannot know
            time.sleep(fault.slow)
        if fault is not None and fault.hold == "after":
            self._hold()
        if fault is not None and fault.drop == "after":
            return self._drop()
        self._json(200, result)

    def _hold(self) -> None:
        fake = self.server_fake
        with fake.lock:
            fake.held_now += 1
            fake.released.clear()
        fake.released.wait(HOLD_TIMEOUT)
        with fake.lock:
            fake.held_now -= 1

    def _drop(self) -> None:
        self.close_connection = True
        _shutdown(self.connection)

    def _json(self, status: int, payload) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client went away (a killed sender): nothing to answer
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake WeChat API server (tests, benchmarks, make run).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomness behind share faults")
    args = parser.parse_args(argv)
    fake = FakeWeChat(args.host, args.port, seed=args.seed).start()
    print(f"fake WeChat API on {fake.url}  (records: http://{fake.host}:{fake.port}/_fake/sent)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    fake.stop()


if __name__ == "__main__":
    main()
