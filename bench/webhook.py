"""Webhook throughput and latency: the bot's POST /wechat next to a bare Flask + wechatpy endpoint.

    .venv/bin/python bench/webhook.py                  # 4 cases, 2 workers, 32 connections, 10 s each
    .venv/bin/python bench/webhook.py --workers 4 --duration 20 --connections 64
    .venv/bin/python bench/webhook.py --profile 2000   # cProfile the bot's request path in-process

Four cases, each through a real gunicorn (sync workers, same settings) on 127.0.0.1:
bare plain, bot plain, bare safe (AES), bot safe. bench/bare_app.py is the floor: signature check,
decrypt, wechatpy.parse_message, echo with create_reply, encrypt. The bot runs on a fresh SQLite
database in a temp dir per case (`flask db upgrade`, then `flask faq load` to validate the FAQ).

Load comes from wrk (Debian: `sudo apt-get install -y wrk`). wrk cannot sign requests cheaply in
Lua, so this script pre-builds files of distinct requests signed (and encrypted) exactly as WeChat
does: a unique MsgId each, worker texts from a fixed pool, ~500 OpenIDs, timestamps current at
generation (TIMESTAMP_WINDOW is raised for the run). bench/wrk_requests.lua replays them, each wrk
thread its own share. Per case: a few requests sent with Python and their replies checked, a
warm-up, then the measured run. Output: a table, the bot/bare ratios against the targets
(bot ≥ 60% of bare msgs/s; bot p99 ≤ 2× bare p99), and bench/results/webhook.json.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import hashlib
import http.client
import io
import json
import os
import platform
import pstats
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "wrk_requests.lua"
RESULTS = BENCH / "results" / "webhook.json"

TOKEN = "bench-token"
APP_ID = "wxbench00000000001"
# ENV=production refuses unsafe settings (bot/settings.py): a fresh secret and data key per run.
PRODUCTION_KEYS = {"SECRET_KEY": secrets.token_urlsafe(48), "DATA_KEY": Fernet.generate_key().decode(),
                   "UNION_ADDRESS": "bench"}
ACCOUNT = "gh_union_account"
CASES = ("bare-plain", "bot-plain", "bare-safe", "bot-safe")
TARGET_RATE = 0.60   # bot msgs/s ≥ 60% of bare
TARGET_P99 = 2.0     # bot p99 ≤ 2× bare p99
MSGID_BASE = 4 * 10**18  # 19-digit MsgIds (fit in int64); ranges per case and phase below

# What workers actually type: FAQ questions (some colloquial, one Traditional), greetings, menu.
# No flow starters (入会/报备/转人工) so every message gets a stateless-ish answer.
TEXTS = [
    "公司拖欠工资怎么办", "加班费怎么算", "你好", "菜单", "您好", "在吗", "谢谢", "欠薪",
    "公司已经三个月没发工资了怎么办", "老板一直拖着工资不给咋整", "国庆节上班公司该给几倍工资",
    "周末加班不给加班费，只说给调休，行吗", "一天工作几个小时是合法的", "大小周违法吗",
    "公司突然把我开除了，合法吗", "被裁员了公司要走什么程序", "干了三年半能拿几个月工资的补偿",
    "N+1是怎么算的", "我想辞职要提前多久说", "试用期离职需要提前几天", "上班半年了公司一直没跟我签合同",
    "没签劳动合同能要双倍工资吗", "试用期工资可以只发一半吗", "最低工资是多少", "工作满一年有年假吗",
    "我工作12年了，年假有几天", "病假工资怎么算", "产假有多少天", "公司不交社保怎么办",
    "上班路上出车祸算工伤吗", "怎么申请劳动仲裁", "劳动仲裁要钱吗", "工会会费怎么交", "入会有什么好处",
    "12351是什么电话", "困难职工有什么帮扶", "厂里停工了这个月工资怎么发", "居家办公期间能出门吗",
    "居家办公期间公司能少发工资吗", "公司拖欠工資怎麼辦", "老板说生意不好全员降薪30%，我不同意可以吗",
    "工资被压了一个月说是押金，这样行吗", "取消",
]


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Requests, built exactly as WeChat sends them
# ---------------------------------------------------------------------------------------------

def sha1_sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def text_xml(openid: str, text: str, msg_id: int, create_time: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")


@dataclass
class Built:
    path: str
    body: str
    openid: str
    text: str
    msg_id: int
    nonce: str
    timestamp: str


class RequestFactory:
    """Signed (and for safe mode AES-encrypted) text-message requests, each with a fresh MsgId."""

    def __init__(self, aes_key: str, openids: int, seed: int):
        from wechatpy.crypto import PrpCrypto

        self.aes_key = aes_key
        self.prp = PrpCrypto(base64.b64decode(aes_key + "="))
        self.rng = random.Random(seed)
        self.openids = [f"o6_bmjrPTlm6_2sgVt7hMZOPf{i:04d}" for i in range(openids)]

    def build(self, safe: bool, msg_id: int, timestamp: int | None = None) -> Built:
        ts = str(timestamp or int(time.time()))
        nonce = str(self.rng.randrange(10**8, 10**10))
        openid, text = self.rng.choice(self.openids), self.rng.choice(TEXTS)
        xml = text_xml(openid, text, msg_id, int(ts))
        query = {"signature": sha1_sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}
        if safe:
            encrypt = self.prp.encrypt(xml, APP_ID)
            encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
            query.update(encrypt_type="aes", msg_signature=sha1_sign(TOKEN, ts, nonce, encrypt))
            xml = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return Built("/wechat?" + urlencode(query), xml, openid, text, msg_id, nonce, ts)

    def write(self, path: Path, safe: bool, first_id: int, count: int) -> None:
        ts = int(time.time())
        with open(path, "w", encoding="utf-8") as out:
            for k in range(count):
                b = self.build(safe, first_id + k, ts)
                assert "\t" not in b.body and "\n" not in b.body
                out.write(f"{b.path}\t{b.body}\n")


def msgid_range(case_index: int, phase: int, round_no: int = 0) -> int:
    """First MsgId for a case (0–3), round (0–9) and phase (0 samples, 1 warm-up, 2 measured)."""
    return MSGID_BASE + case_index * 10**15 + round_no * 10**14 + phase * 10**13


# ---------------------------------------------------------------------------------------------
# Processes: gunicorn servers and wrk, always stopped
# ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle or iowait) since boot, from /proc/stat."""
    with contextlib.suppress(OSError, ValueError):
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        found += frontier
    return found


class Server:
    """One gunicorn (sync workers) in its own process group; stop() is safe to call twice."""

    def __init__(self, name: str, app_spec: str, env: dict, workers: int, log_path: Path,
                 pythonpath: Path | None = None):
        self.name, self.port, self.log_path = name, free_port(), log_path
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{self.port}", "--backlog", "2048", "--timeout", "120",
               "--graceful-timeout", "5", "--log-level", "warning", "--chdir", str(ROOT)]
        if pythonpath:
            cmd += ["--pythonpath", str(pythonpath)]
        cmd.append(app_spec)
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_tail())
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                if len(self.pids()) >= workers + 1:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}")

    def pids(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc.poll() is None else []

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)  # gunicorn: graceful shutdown of its workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stray workers of our own group, if any
        self.log_file.close()


def run_wrk(url: str, req_file: Path, args, duration: float, work: Path, server: Server) -> dict:
    """Run wrk once; its own CPU from wait4's rusage, the server's from /proc around the run."""
    threads = min(args.threads, args.connections)
    cmd = [args.wrk, "-t", str(threads), "-c", str(args.connections), "-d", f"{duration:g}s",
           "--timeout", "10s", "-s", str(LUA), url, "--", str(req_file), str(threads)]
    out_path, err_path = work / "wrk.out", work / "wrk.err"
    server_pids = server.pids()
    server_cpu0, machine0 = proc_cpu_seconds(server_pids), machine_busy_seconds()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = started + duration + 120
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    raise RuntimeError("wrk did not finish in time")
                time.sleep(0.05)
        except BaseException:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, 0)
                proc.returncode = -9
            raise
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = proc_cpu_seconds(server_pids) - server_cpu0
    machine = machine_busy_seconds() - machine0
    text, errors = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    match = re.search(r"^WRK_RESULT (\{.*\})$", text, re.M)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{text}\n{errors}")
    result = json.loads(match.group(1))
    result["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["wrk_wall_s"] = wall
    result["wrk_cpu_pct"] = 100.0 * result["wrk_cpu_s"] / wall
    result["server_cpu_pct"] = 100.0 * server_cpu / wall
    result["machine_cpu_pct"] = 100.0 * machine / wall
    # Whatever else ran on the machine meanwhile (other jobs, this script): it skews the numbers.
    result["other_cpu_pct"] = max(0.0, result["machine_cpu_pct"] - result["server_cpu_pct"] - result["wrk_cpu_pct"])
    result["threads"] = threads
    return result


# ---------------------------------------------------------------------------------------------
# Checking replies with Python before the load
# ---------------------------------------------------------------------------------------------

def post(port: int, built: Built, timeout: float = 60.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", built.path, body=built.body.encode("utf-8"), headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def reply_text(body: str, safe: bool, aes_key: str, built: Built) -> str:
    """The reply's text; raises if it is not a real, correctly addressed (and encrypted) reply."""
    import xmltodict
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.replies import deserialize_reply

    if body in ("", "success"):
        raise ValueError(f"no reply ({body!r})")
    if safe:
        envelope = xmltodict.parse(body)["xml"]
        if envelope.get("Nonce") != built.nonce or envelope.get("TimeStamp") != built.timestamp:
            raise ValueError("encrypted reply does not echo the request's nonce/timestamp")
        body = WeChatCrypto(TOKEN, aes_key, APP_ID).decrypt_message(
            envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = deserialize_reply(body)
    if reply.target != built.openid or reply.source != ACCOUNT:
        raise ValueError(f"reply addressed {reply.source}→{reply.target}")
    if reply.type != "text" or not getattr(reply, "content", ""):
        raise ValueError(f"reply is {reply.type} with no text")
    return reply.content


def check_samples(port: int, factory: RequestFactory, safe: bool, bare: bool, first_id: int, count: int,
                  aes_key: str) -> dict:
    busy = system_busy_text()
    ok, problems, examples, elapsed = 0, [], [], []
    for k in range(count):
        built = factory.build(safe, first_id + k)
        t0 = time.perf_counter()
        status, body = post(port, built)
        elapsed.append(time.perf_counter() - t0)
        try:
            if status != 200:
                raise ValueError(f"HTTP {status}: {body[:120]!r}")
            text = reply_text(body, safe, aes_key, built)
            if bare and text != built.text:
                raise ValueError(f"bare echo {text!r} != {built.text!r}")
            if not bare and busy and text.strip() == busy:
                raise ValueError("bot answered SYSTEM_BUSY (it failed on this message)")
            ok += 1
            if len(examples) < 4 and built.text not in [e["text"] for e in examples]:
                examples.append({"text": built.text, "reply": text[:60].replace("\n", " ")})
        except Exception as exc:  # noqa: BLE001 – every kind of bad reply is reported, not raised
            problems.append({"text": built.text, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"sent": count, "ok": ok, "problems": problems[:10], "examples": examples,
            "first_ms": round(elapsed[0] * 1000, 1) if elapsed else None,
            "median_ms": round(sorted(elapsed)[len(elapsed) // 2] * 1000, 1) if elapsed else None}


def system_busy_text() -> str | None:
    with contextlib.suppress(Exception):
        sys.path.insert(0, str(ROOT))
        from bot import texts

        return texts.SYSTEM_BUSY.strip()
    return None


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    bot: bool
    safe: bool
    index: int
    round_no: int = 0
    result: dict = field(default_factory=dict)


def prepare_bot_db(work: Path, env: dict) -> dict:
    """Fresh SQLite: migrate, then validate the FAQ. A failing FAQ check is reported, not fatal."""
    status = {}
    for label, args in (("db_upgrade", ["db", "upgrade"]), ("faq_load", ["faq", "load"])):
        proc = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        output = (proc.stdout + proc.stderr).strip()
        status[label] = {"ok": proc.returncode == 0, "tail": output.splitlines()[-3:] if output else []}
        if label == "db_upgrade" and proc.returncode != 0:
            raise RuntimeError(f"flask db upgrade failed:\n{output}")
        if not status[label]["ok"]:
            log(f"  ! flask {' '.join(args)} failed (continuing): {output.splitlines()[-1] if output else ''}")
    return status


def fresh_database(server_url: str, name: str) -> str:
    """--database-url (PostgreSQL): a new, empty database per bot case on that server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def db_stats(url: str, first_id: int, last_id: int) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            q = lambda sql, **a: conn.execute(text(sql), a).scalar()  # noqa: E731
            keys = {"lo": f"msg:{first_id}", "hi": f"msg:{last_id}"}
            return {
                "inbound": q("SELECT count(*) FROM message WHERE direction = 'in'"),
                "outbound": q("SELECT count(*) FROM message WHERE direction = 'out'"),
                "workers": q("SELECT count(*) FROM worker"),
                "measured_inbound": q("SELECT count(*) FROM message WHERE direction = 'in' AND dedupe_key "
                                      "BETWEEN :lo AND :hi", **keys),
                "measured_without_reply": q("SELECT count(*) FROM message WHERE direction = 'in' AND dedupe_key "
                                            "BETWEEN :lo AND :hi AND coalesce(reply_xml, '') = ''", **keys),
            }
    finally:
        engine.dispose()


def prime(port: int, factory: RequestFactory, safe: bool, first_id: int, count: int) -> None:
    """Concurrent requests, so every worker (very likely) loads its lazy state (the router index) at once."""
    from concurrent.futures import ThreadPoolExecutor

    reqs = [factory.build(safe, first_id + k) for k in range(count)]
    with ThreadPoolExecutor(count) as pool:
        statuses = [status for status, _ in pool.map(lambda b: post(port, b, timeout=120), reqs)]
    if any(s != 200 for s in statuses):
        log(f"  ! priming requests answered {statuses}")


def warm_up(case: Case, args, factory: RequestFactory, work: Path, server: Server) -> tuple[dict, float]:
    """wrk in chunks of distinct requests until at least --warmup seconds have passed and the rate is
    steady (two chunks within 15%), at most --max-warmup seconds: a worker still building its
    index (seconds, lazily on its first text) must not land in the measured run."""
    chunk = max(1.0, min(args.warmup, 3.0))
    first, rates, elapsed, rate = msgid_range(case.index, 1, case.round_no), [], 0.0, float(args.connections * 100)
    while True:
        count = min(args.max_requests, int(rate * chunk * 2) + 2000)
        path = work / "warmup.txt"
        factory.write(path, case.safe, first, count)
        first += count
        run = run_wrk(server.url, path, args, chunk, work, server)
        rate = run["requests"] / max(run["duration_us"] / 1e6, 1e-3)
        rates.append(round(rate, 1))
        elapsed += chunk
        steady = len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.15 * max(rates[-1], rates[-2])
        if run["wrapped"]:
            steady = False  # replays are answered from the dedupe table: not a real rate
        if (elapsed >= args.warmup and steady) or elapsed >= args.max_warmup:
            break
    log(f"[{case.name}] warm-up {elapsed:g}s, chunk rates {rates} msgs/s{'' if steady else ' (not steady)'}")
    return {"seconds": elapsed, "chunk_s": chunk, "chunk_rates": rates, "steady": steady}, rate


def run_case(case: Case, args, factory: RequestFactory, base_env: dict, aes_key: str, tmp: Path) -> dict:
    work = tmp / f"{case.name}-{case.round_no}"
    work.mkdir()
    env = dict(base_env)
    db_status = None
    if case.bot:
        db_path = work / "bot.sqlite"
        env["DATABASE_URL"] = fresh_database(args.database_url, f"bench_{case.name}_{case.round_no}".replace("-", "_")) \
            if args.database_url else f"sqlite:///{db_path}"
        log(f"[{case.name}] fresh database, migrate + FAQ check …")
        db_status = prepare_bot_db(work, env)
        server = Server(case.name, "app:create_app()", env, args.workers, work / "gunicorn.log")
    else:
        server = Server(case.name, "bare_app:create_app()", env, args.workers, work / "gunicorn.log",
                        pythonpath=BENCH)
    try:
        server.wait_ready(args.workers)
        log(f"[{case.name}] gunicorn up on {server.url} ({args.workers} sync workers); checking {args.samples} replies …")
        prime(server.port, factory, case.safe, msgid_range(case.index, 0, case.round_no) + 10**9, 2 * args.workers)
        samples = check_samples(server.port, factory, case.safe, not case.bot, msgid_range(case.index, 0, case.round_no),
                                args.samples, aes_key)
        log(f"[{case.name}]   {samples['ok']}/{samples['sent']} real replies (first {samples['first_ms']} ms, "
            f"median {samples['median_ms']} ms)")
        for p in samples["problems"][:3]:
            log(f"[{case.name}]   ! {p['text']}: {p['error']}")
        if samples["ok"] == 0:
            raise RuntimeError(f"{case.name}: no sampled request got a real reply; see {server.log_path}\n"
                               + server.log_tail())

        warm, warm_rate = warm_up(case, args, factory, work, server)

        count = min(args.max_requests, max(args.min_requests, int(warm_rate * args.duration * 2.0) + 2000))
        req_file = work / "measure.txt"
        first = msgid_range(case.index, 2, case.round_no)
        t0 = time.perf_counter()
        factory.write(req_file, case.safe, first, count)
        log(f"[{case.name}] {count} distinct requests built in {time.perf_counter() - t0:.1f}s "
            f"(warm-up ran at {warm_rate:.0f}/s); measuring {args.duration:g}s …")
        result = run_wrk(server.url, req_file, args, args.duration, work, server)
        result.update(
            case=case.name, round=case.round_no, server="bot" if case.bot else "bare", mode="safe" if case.safe else "plain",
            workers=args.workers, connections=args.connections, duration_s=args.duration,
            msgs_per_s=result["requests"] / (result["duration_us"] / 1e6),
            p50_ms=result["p50_us"] / 1000, p90_ms=result["p90_us"] / 1000, p99_ms=result["p99_us"] / 1000,
            max_ms=result["max_us"] / 1000, mean_ms=result["mean_us"] / 1000,
            socket_errors=sum(v for k, v in result["errors"].items() if k != "status"),
            prebuilt=count, samples=samples, warmup=warm,
        )
        if case.bot:
            result["db"] = db_stats(env["DATABASE_URL"], first, first + count - 1)
            result["db"]["setup"] = db_status
            answered = min(result["requests"], count)
            # Requests answered during the run but not stored were rolled back (the bot replied
            # SYSTEM_BUSY); a few extra stored rows are requests still in flight when wrk stopped.
            result["unstored"] = max(0, answered - result["db"]["measured_inbound"])
        log_text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
        result["server_log"] = {"tracebacks": log_text.count("Traceback"),
                                "errors": len(re.findall(r"\b(ERROR|CRITICAL)\b", log_text)),
                                "worker_timeouts": log_text.count("WORKER TIMEOUT")}
        return result
    finally:
        server.stop()


def fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def print_table(results: list[dict], summary: dict, rounds: int = 1) -> None:
    head = ["case", "workers", "conns", "msgs/s", "p50 ms", "p99 ms", "non-2xx", "sock err", "wrk CPU%",
            "server CPU%", "other CPU%"]
    rows = [[r["case"].replace("-", " "), str(r["workers"]), str(r["connections"]), fmt(r["msgs_per_s"]),
             fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2), str(r["non2xx"]), str(r["socket_errors"]),
             fmt(r["wrk_cpu_pct"], 0), fmt(r["server_cpu_pct"], 0), fmt(r["other_cpu_pct"], 0)] for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    if rounds > 1:
        print(f"(median of {rounds} interleaved rounds by msgs/s; per round: "
              + "; ".join(f"{r['case']} {r['rounds_msgs_per_s']}" for r in results) + ")")
    print(f"(CPU% = % of one core over the measured wrk run, {os.cpu_count()} cores here; server = gunicorn "
          "master + workers; other = the rest of the machine, e.g. other jobs)")
    print()
    for mode, s in summary["modes"].items():
        print(f"{mode:5}  bot/bare msgs/s = {fmt(s['rate_ratio'], 2)}  (target ≥ {TARGET_RATE:.2f}: "
              f"{'OK' if s['rate_ok'] else 'MISSED'})   bot p99 / bare p99 = {fmt(s['p99_ratio'], 2)}  "
              f"(target ≤ {TARGET_P99:.1f}: {'OK' if s['p99_ok'] else 'MISSED'})")
    for w in summary["warnings"]:
        print("warning:", w)


def summarise(results: list[dict], args) -> dict:
    by = {r["case"]: r for r in results}
    modes, warnings = {}, []
    for mode in ("plain", "safe"):
        bot, bare = by.get(f"bot-{mode}"), by.get(f"bare-{mode}")
        if bot and bare:
            rate = bot["msgs_per_s"] / bare["msgs_per_s"] if bare["msgs_per_s"] else None
            p99 = bot["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else None
            modes[mode] = {"rate_ratio": rate, "p99_ratio": p99,
                           "rate_ok": rate is not None and rate >= TARGET_RATE,
                           "p99_ok": p99 is not None and p99 <= TARGET_P99}
    for r in results:
        name = r["case"] + (f" (round {r['round'] + 1})" if args.rounds > 1 else "")
        if r["non2xx"] or r["socket_errors"]:
            warnings.append(f"{name}: {r['non2xx']} non-2xx responses, socket errors {r['errors']}")
        if r["nonxml"]:
            warnings.append(f"{name}: {r['nonxml']} 2xx responses were not a reply XML (e.g. 'success')")
        if r["wrapped"]:
            warnings.append(f"{name}: wrk ran out of distinct requests and replayed MsgIds "
                            f"({r['prebuilt']} pre-built); raise --min-requests")
        if not r["warmup"]["steady"]:
            warnings.append(f"{name}: warm-up rate never settled ({r['warmup']['chunk_rates']} msgs/s)")
        if r["samples"]["problems"]:
            warnings.append(f"{name}: {len(r['samples']['problems'])} of {r['samples']['sent']} sampled replies "
                            f"were wrong, e.g. {r['samples']['problems'][0]['error']}")
        if r.get("unstored"):
            warnings.append(f"{name}: {r['unstored']} answered messages were not stored (rolled back → SYSTEM_BUSY "
                            "reply); see the gunicorn log")
        if r["server_log"]["tracebacks"] or r["server_log"]["worker_timeouts"]:
            warnings.append(f"{name}: server log has {r['server_log']['tracebacks']} tracebacks, "
                            f"{r['server_log']['worker_timeouts']} worker timeouts")
        db = r.get("db", {}).get("setup") or {}
        if db and not db.get("faq_load", {}).get("ok", True):
            warnings.append(f"{name}: `flask faq load` failed: {' '.join(db['faq_load']['tail'][-1:])}")
        if r["wrk_cpu_pct"] >= 80.0 * r["threads"]:
            warnings.append(f"{name}: wrk used {r['wrk_cpu_pct']:.0f}% of a core with {r['threads']} thread(s); "
                            "it may be the bottleneck")
    busy = [r["case"] for r in results if r["other_cpu_pct"] > 25]
    if busy:
        warnings.append(f"other processes used > 25% of a core during {', '.join(busy)}: absolute numbers are "
                        "skewed; compare the ratios, or re-run on a quiet machine")
    cores = os.cpu_count() or 1
    if cores < args.workers + 1:
        warnings.append(f"only {cores} cores for {args.workers} workers + wrk: server and load generator share CPUs")
    return {"modes": modes, "warnings": warnings,
            "targets": {"bot_rate_vs_bare_min": TARGET_RATE, "bot_p99_vs_bare_max": TARGET_P99}}


def environment_info(args) -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    with contextlib.suppress(Exception):
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        info["cpu_model"] = model.group(1) if model else None
    with contextlib.suppress(Exception):
        out = subprocess.run([args.wrk, "--version"], capture_output=True, text=True, timeout=10)
        info["wrk"] = (out.stdout + out.stderr).splitlines()[0]
    with contextlib.suppress(Exception):
        import gunicorn

        info["gunicorn"] = gunicorn.__version__
    with contextlib.suppress(Exception):
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True, timeout=10).stdout.strip()
        info["git_dirty"] = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                                                text=True, timeout=10).stdout.strip())
    return info


def bench(args) -> int:
    args.wrk = args.wrk or shutil.which("wrk")
    if not args.wrk:
        print("wrk is not installed. On Debian/Ubuntu:\n    sudo apt-get update && sudo apt-get install -y wrk\n"
              "(or pass --wrk /path/to/wrk)", file=sys.stderr)
        return 2
    try:
        import gunicorn  # noqa: F401
        import wechatpy  # noqa: F401
    except ImportError as exc:
        print(f"{exc}; run this with the project's venv: .venv/bin/python bench/webhook.py", file=sys.stderr)
        return 2
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        print(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2

    aes_key = base64.b64encode(os.urandom(32)).decode()[:43]
    factory = RequestFactory(aes_key, args.openids, args.seed)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "FLASK_"))}
    base_env.update(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_AES_KEY=aes_key,
                    TIMESTAMP_WINDOW=str(args.timestamp_window), ENV="production", **PRODUCTION_KEYS,
                    PYTHONUNBUFFERED="1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    runs: list[dict] = []
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        for round_no in range(args.rounds):  # rounds interleave the cases, so slow drifts hit all alike
            for name in cases:
                case = Case(name, name.startswith("bot"), name.endswith("safe"), CASES.index(name), round_no)
                runs.append(run_case(case, args, factory, base_env, aes_key, tmp))
                r = runs[-1]
                log(f"[{name}{f' round {round_no + 1}' if args.rounds > 1 else ''}] {r['msgs_per_s']:.1f} msgs/s, "
                    f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, non-2xx {r['non2xx']}, "
                    f"wrk CPU {r['wrk_cpu_pct']:.0f}%")
    finally:
        if args.keep_temp:
            log(f"temp files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    results = []
    for name in cases:  # per case, the round with the median msgs/s (all its numbers from that round)
        mine = sorted((r for r in runs if r["case"] == name), key=lambda r: r["msgs_per_s"])
        chosen = dict(mine[(len(mine) - 1) // 2])
        chosen["rounds_msgs_per_s"] = [round(r["msgs_per_s"], 1) for r in runs if r["case"] == name]
        chosen["rounds_p99_ms"] = [round(r["p99_ms"], 2) for r in runs if r["case"] == name]
        results.append(chosen)
    summary = summarise(runs, args)
    summary["modes"] = summarise(results, args)["modes"]
    print()
    print_table(results, summary, args.rounds)
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {"workers": args.workers, "worker_class": "sync", "connections": args.connections,
                     "wrk_threads": args.threads, "duration_s": args.duration, "warmup_s": args.warmup,
                     "max_warmup_s": args.max_warmup,
                     "openids": args.openids, "texts": len(TEXTS), "timestamp_window": args.timestamp_window,
                     "samples": args.samples, "rounds": args.rounds},
        "environment": environment_info(args),
        "cases": results,
        "runs": runs if args.rounds > 1 else None,
        "summary": summary,
        "children_cpu_s": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {out}")
    far_below = any(m["rate_ratio"] is not None and m["rate_ratio"] < TARGET_RATE / 2 for m in summary["modes"].values())
    if far_below:
        print("the bot is far below the targets; see where the time goes with: "
              ".venv/bin/python bench/webhook.py --profile 2000")
    return 0


# ---------------------------------------------------------------------------------------------
# --profile: where one bot request's time goes (in-process, Flask test client, cProfile)
# ---------------------------------------------------------------------------------------------

BUCKETS = [  # (label, how to recognise the function in pstats: (file fragment, function name))
    ("whole request (Flask test client)", ("flask/app.py", "wsgi_app")),
    ("bot.webhook.receive", ("bot/webhook.py", "receive")),
    ("  decrypt (AES) ", ("bot/webhook.py", "decrypt")),
    ("  parse (xmltodict + wechatpy)", ("bot/webhook.py", "parse")),
    ("  handle (dedupe + process + commit)", ("bot/webhook.py", "handle")),
    ("    load_worker", ("bot/webhook.py", "load_worker")),
    ("    dispatcher → handler", ("bot/dispatch.py", "__call__")),
    ("      nlu route", ("bot/nlu/matcher.py", "route")),   # Index.route
    ("    render reply", ("bot/webhook.py", "render")),
    ("  encrypt reply", ("wechatpy/crypto/__init__.py", "encrypt_message")),
    ("SQLAlchemy Session.commit", ("sqlalchemy/orm/session.py", "commit")),
    ("SQLAlchemy Session.flush", ("sqlalchemy/orm/session.py", "flush")),
    ("SQLAlchemy Session.execute", ("sqlalchemy/orm/session.py", "execute")),
    ("sqlite3 execute (C)", ("~", "<method 'execute' of 'sqlite3.Cursor' objects>")),
    ("sqlite3 commit (C)", ("~", "<method 'commit' of 'sqlite3.Connection' objects>")),
]


VIEW_LABEL = "bot.webhook.receive (the view)"


def time_parts(app, run) -> dict[str, list]:
    """Run `run()` with cheap wall-clock timers wrapped around the bot's parts (patched in memory only)."""
    from unittest import mock

    import bot.dialog
    import bot.faq
    import bot.nlu
    import bot.webhook
    from sqlalchemy.orm import Session

    timers: dict[str, list] = {}

    def timed(label, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                rec = timers.setdefault(label, [0, 0.0])
                rec[0] += 1
                rec[1] += time.perf_counter() - t0
        return wrapper

    wh = bot.webhook
    dispatcher = wh.dispatcher()
    parts = [
        (wh, "decrypt", "  decrypt (AES, safe mode)"),
        (wh, "parse", "  parse (xmltodict + wechatpy.parse_message)"),
        (wh, "prepare", "  prepare: route free text before the lock"),
        (wh, "handle", "  handle: one DB transaction (write lock held)"),
        (wh, "write_transaction", "    write_transaction (writer queue, BEGIN IMMEDIATE)"),
        (wh, "load_worker", "    load_worker (SELECT … FOR UPDATE, flush)"),
        (bot.dialog.DialogEngine, "_load", "    dialog row (SELECT … FOR UPDATE)"),
        (bot.nlu, "route", "      nlu route (router / matcher; in prepare, or here)"),
        (bot.faq.store, "_stamp", "      FAQ change check (stat per file, every 2 s)"),
        (wh, "render", "    render reply XML"),
        (Session, "flush", "    Session.flush (all, incl. inside commit)"),
        (Session, "commit", "    Session.commit"),
    ]
    with contextlib.ExitStack() as stack:
        for owner, name, label in parts:
            stack.enter_context(mock.patch.object(owner, name, timed(label, getattr(owner, name))))
        timed_dispatch = timed("    dispatcher → handlers (dialog, answers)", dispatcher)
        stack.enter_context(mock.patch.object(wh, "dispatcher", lambda: timed_dispatch))
        # the view is bound in app.view_functions, so it is wrapped there
        stack.enter_context(mock.patch.dict(app.view_functions, {
            "wechat.receive": timed(VIEW_LABEL, app.view_functions["wechat.receive"])}))
        run()
    order = [VIEW_LABEL] + [label for _, _, label in parts[:7]] + ["    dispatcher → handlers (dialog, answers)"] + \
        [label for _, _, label in parts[7:]]
    return {label: timers[label] for label in order if label in timers}


def self_time_by_package(raw: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for (file, _line, name), v in raw.items():
        if file == "~":
            pkg = "C built-ins (" + ("sqlite3" if "sqlite3" in name else "opencc" if "opencc" in name
                                    else "numpy" if "numpy" in name else "other") + ")"
        elif "site-packages/" in file:
            pkg = file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif file.startswith(str(ROOT / "bot")):
            pkg = "bot." + file[len(str(ROOT / "bot")) + 1:].split("/", 1)[0].removesuffix(".py")
        elif file.startswith(str(BENCH)):
            pkg = "bench (driver)"
        else:
            pkg = "stdlib / other"
        out[pkg] = out.get(pkg, 0.0) + v[2]
    top = dict(sorted(out.items(), key=lambda kv: -kv[1])[:14])
    return top


def profile(args) -> int:
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-profile-"))
    aes_key = base64.b64encode(os.urandom(32)).decode()[:43]
    env_overrides = dict(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_AES_KEY=aes_key,
                         TIMESTAMP_WINDOW=str(args.timestamp_window), DATABASE_URL=f"sqlite:///{tmp / 'bot.sqlite'}",
                         ENV="production", **PRODUCTION_KEYS)
    try:
        env = {**os.environ, **env_overrides}
        prepare_bot_db(tmp, env)
        os.environ.update(env_overrides)
        import logging

        from app import create_app

        sys.path.insert(0, str(BENCH))
        import bare_app

        bot_app = create_app()
        logging.getLogger().setLevel(logging.WARNING)
        bare = bare_app.create_app()
        factory = RequestFactory(aes_key, args.openids, args.seed)
        safe = args.profile_mode == "safe"
        n = args.profile

        def drive(app, first_id: int, count: int) -> tuple[float, float]:
            """(wall, CPU) seconds per message through the Flask test client."""
            client = app.test_client()
            reqs = [factory.build(safe, first_id + k) for k in range(count)]
            t0, c0 = time.perf_counter(), time.process_time()
            for b in reqs:
                resp = client.post(b.path, data=b.body.encode("utf-8"), headers={"Content-Type": "text/xml"})
                if resp.status_code != 200:
                    raise RuntimeError(f"HTTP {resp.status_code}: {resp.get_data(as_text=True)[:200]}")
            return (time.perf_counter() - t0) / count, (time.process_time() - c0) / count

        # The first text loads the router index (seconds) and fills caches: warm up, unmeasured.
        drive(bot_app, msgid_range(0, 0), 300)
        drive(bare, msgid_range(0, 0), 300)
        bare_ms, bare_cpu = (x * 1000 for x in drive(bare, msgid_range(1, 2), n))
        bot_ms, bot_cpu = (x * 1000 for x in drive(bot_app, msgid_range(2, 2), n))
        print(f"in-process, {args.profile_mode} mode, {n} text messages, Flask test client, no profiler:")
        print(f"  bare {bare_ms:.3f} ms/msg wall ({bare_cpu:.3f} CPU), {1000 / bare_ms:,.0f}/s per process")
        print(f"  bot  {bot_ms:.3f} ms/msg wall ({bot_cpu:.3f} CPU), {1000 / bot_ms:,.0f}/s per process"
              f"   bot/bare time = {bot_ms / bare_ms:.1f}×")
        print(f"  (wall > CPU means waiting: disk, or other jobs on this machine; machine load now "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

        whole: list = []
        timers = time_parts(bot_app, lambda: whole.append(drive(bot_app, msgid_range(2, 3), n)))
        timers = {"whole request through the test client": [n, whole[0][0] * n], **timers}
        bot_ms = whole[0][0] * 1000  # shares below are of this run's wall time
        print(f"\nwall-clock timers around the bot's parts ({n} more messages, no profiler; nested, so shares "
              "overlap; the rest of the request is Flask, the test client and Flask-SQLAlchemy's teardown):")
        print(f"  {'part':52} {'calls/msg':>9} {'ms/msg':>8} {'share':>6}")
        for label, (calls, secs) in timers.items():
            print(f"  {label:52} {calls / n:9.2f} {secs / n * 1000:8.3f} {100 * secs / n / (bot_ms / 1000):5.1f}%")
        print("  (SQLite: every transaction starts with BEGIN IMMEDIATE, so a worker holds the database write lock"
              "\n   for the whole of `handle`; other workers wait for it)")

        prof = cProfile.Profile()
        prof.enable()
        drive(bot_app, msgid_range(3, 2), n)
        prof.disable()
        stats = pstats.Stats(prof)
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"\ncProfile of {n} bot requests ({total:.2f}s profiled; profiler inflates Python-heavy code):")
        print(f"  {'part':40} {'ms/msg':>8} {'share':>6}")
        raw = stats.stats  # type: ignore[attr-defined]
        for label, (frag, func) in BUCKETS:
            cum = sum(v[3] for (file, _line, name), v in raw.items() if name == func and frag in file)
            if cum:
                print(f"  {label:40} {cum / n * 1000:8.3f} {100 * cum / total:5.1f}%")
        print(f"\n  self time by package (cProfile tottime; C built-ins counted apart):")
        for pkg, secs in self_time_by_package(raw).items():
            print(f"  {pkg:40} {secs / n * 1000:8.3f} {100 * secs / total:5.1f}%")
        for sort in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(sort).print_stats(args.profile_top)
            text = buf.getvalue()
            print(f"\n--- top {args.profile_top} by {sort} ---")
            print(text[text.find("   ncalls"):].rstrip())
        if args.profile_out:
            prof.dump_stats(args.profile_out)
            print(f"\nraw profile: {args.profile_out} (python -m pstats, snakeviz …)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, same for every case (2)")
    p.add_argument("--connections", "-c", type=int, default=32, help="concurrent wrk connections (32)")
    p.add_argument("--threads", "-t", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--duration", "-d", type=float, default=10.0, help="measured seconds per case (10)")
    p.add_argument("--warmup", type=float, default=4.0,
                   help="warm-up seconds per case, at least (4); continues until the rate is steady")
    p.add_argument("--max-warmup", type=float, default=30.0, help="warm-up seconds per case, at most (30)")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat all cases this many times, interleaved; the table shows each case's median (1)")
    p.add_argument("--samples", type=int, default=24, help="requests sent with Python and checked per case (24)")
    p.add_argument("--openids", type=int, default=500, help="distinct worker OpenIDs (500)")
    p.add_argument("--min-requests", type=int, default=20000, help="pre-built distinct requests per case, at least")
    p.add_argument("--max-requests", type=int, default=400000, help="… and at most")
    p.add_argument("--timestamp-window", type=int, default=3600, help="TIMESTAMP_WINDOW for the servers (s)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--wrk", help="path to wrk (default: from PATH)")
    p.add_argument("--json", default=str(RESULTS), help=f"results file ({RESULTS.relative_to(ROOT)})")
    p.add_argument("--keep-temp", action="store_true", help="keep databases, request files and server logs")
    p.add_argument("--database-url", default="",
                   help="run the bot on this PostgreSQL server (a fresh database per case) instead of SQLite")
    p.add_argument("--profile", type=int, metavar="N", help="instead of the load test: cProfile N bot requests")
    p.add_argument("--profile-mode", choices=("plain", "safe"), default="plain")
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--profile-out", help="also dump the raw cProfile stats here")
    args = p.parse_args(argv)
    if args.workers < 1 or args.connections < 1 or args.threads < 1 or not 1 <= args.rounds <= 9 or args.duration <= 0 or args.warmup < 0:
        p.error("workers, connections and threads must be ≥ 1, rounds 1–9, duration > 0, warmup ≥ 0")

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # SIGINT too: it may arrive ignored (`cmd &`)
        signal.signal(sig, terminate)
    try:
        return profile(args) if args.profile else bench(args)
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
