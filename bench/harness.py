"""The webhook bench's machinery: requests built as WeChat sends them, servers, wrk, CPU and memory.

Requests come from the project's own protocol module (bot.wechat: message_xml, request, the AES
envelope), so the bench signs and encrypts exactly as the tests and the simulator do. Servers are
gunicorn (sync workers) or `flask serve`, each in its own process group and always stopped; CPU and
memory come from psutil: the server's processes (and a PostgreSQL server's, found by its port),
before and after each measured run.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LUA = BENCH / "wrk_requests.lua"
sys.path.insert(0, str(ROOT))

from bot import wechat  # noqa: E402  (the project's protocol module, after the path is set)

TOKEN = "bench-token"
APP_ID = "wxbench00000000001"
ACCOUNT = "gh_union_account"

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


def bot_settings(aes_key: str) -> dict[str, str]:
    """The environment every bench runs the bot (and the bare echo) with: production settings,
    fresh secrets, the bench's token and app id, an hour's timestamp window (requests are built
    ahead), and the flood limit raised: 500 workers sending 600+ msgs/s between them would be over
    30 a minute and get the short "slow down" path (the check itself still runs; bench/flood.py
    measures flood control)."""
    import secrets

    from cryptography.fernet import Fernet

    return dict(WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID, WECHAT_AES_KEY=aes_key, TIMESTAMP_WINDOW="3600",
                ENV="production", SECRET_KEY=secrets.token_urlsafe(48), DATA_KEY=Fernet.generate_key().decode(),
                UNION_ADDRESS="bench", FLOOD_MESSAGES="1000000")


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


# -- requests --------------------------------------------------------------------------------------
@dataclass
class Built:
    path: str
    body: str
    openid: str
    text: str
    msg_id: int


class Requests:
    """Signed (and in safe mode encrypted) text messages, each with a MsgId of its own."""

    def __init__(self, aes_key: str, openids: int, seed: int):
        self.cipher = wechat.crypto(TOKEN, aes_key, APP_ID)
        self.rng = random.Random(seed)
        self.openids = [f"o6_bmjrPTlm6_2sgVt7hMZOPf{i:04d}" for i in range(openids)]

    def build(self, safe: bool, msg_id: int, timestamp: int | None = None, openid: str | None = None,
              text: str | None = None) -> Built:
        openid, text = openid or self.rng.choice(self.openids), text or self.rng.choice(TEXTS)
        ts = timestamp or int(time.time())
        xml = wechat.message_xml(openid, "text", {"Content": text}, msg_id=msg_id, create_time=ts, account=ACCOUNT)
        path, body = wechat.request(xml, TOKEN, openid=openid, cipher=self.cipher if safe else None,
                                    timestamp=ts, nonce=str(self.rng.randrange(10**8, 10**10)), account=ACCOUNT)
        return Built(path, body, openid, text, msg_id)

    def write(self, path: Path, safe: bool, first_id: int, count: int, **kw) -> None:
        """A file for bench/wrk_requests.lua: one request per line, `<path>\\t<body>`."""
        ts = int(time.time())
        with open(path, "w", encoding="utf-8") as out:
            for k in range(count):
                b = self.build(safe, first_id + k, ts, **kw)
                out.write(f"{b.path}\t{b.body}\n")


def post(port: int, built: Built, timeout: float = 60.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", built.path, body=built.body.encode("utf-8"), headers={"Content-Type": "text/xml"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def reply_text(body: str, requests: Requests, safe: bool, built: Built) -> str:
    """The reply's text; raises if it is not a real, correctly addressed text reply."""
    from wechatpy.replies import deserialize_reply

    if body in ("", "success"):
        raise ValueError(f"no reply ({body!r})")
    if safe:
        envelope = wechat.fields(body)
        body = requests.cipher.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"],
                                               envelope["Nonce"])
    reply = deserialize_reply(body)
    if reply.target != built.openid or reply.source != ACCOUNT:
        raise ValueError(f"reply addressed {reply.source}→{reply.target}")
    if reply.type != "text" or not getattr(reply, "content", ""):
        raise ValueError(f"reply is {reply.type} with no text")
    return reply.content


# -- processes -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A web server (gunicorn or `flask serve`) in its own process group; stop() is safe twice."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_path: Path, port: int):
        self.name, self.port, self.log_path = name, port, log_path
        self.log_file = open(log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    @classmethod
    def gunicorn(cls, name, app_spec: str, env: dict, workers: int, log_path: Path, pythonpath: Path | None = None,
                 config: Path | None = None) -> Server:
        port = free_port()
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "120",
               "--graceful-timeout", "5", "--log-level", "warning", "--chdir", str(ROOT)]
        if config is not None:
            cmd += ["--config", str(config)]
        if pythonpath:
            cmd += ["--pythonpath", str(pythonpath)]
        return cls(name, cmd + [app_spec], env, log_path, port)

    @classmethod
    def flask_serve(cls, name, env: dict, log_path: Path) -> Server:
        """What `make run` starts: the web app, the scheduler and the outbox sender in one process."""
        port = free_port()
        cmd = [sys.executable, "-m", "flask", "--app", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
        return cls(name, cmd, env, log_path, port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        """The server and its workers (children)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def workers(self) -> list[psutil.Process]:
        return self.processes()[1:]

    def first_answer(self, requests: Requests, msg_id: int, timeout: float = 60.0) -> float:
        """Seconds from launch to the first real reply to a signed text message (polled every 10 ms)."""
        deadline = self.started + timeout
        built = requests.build(False, msg_id, text="公司拖欠工资怎么办")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, body = post(self.port, built, timeout=30)
                if status == 200 and reply_text(body, requests, False, built):
                    return time.monotonic() - self.started
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} gave no answer within {timeout:.0f} s; see {self.log_path}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)  # gunicorn / flask serve: graceful shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stray workers of our own group, if any
        self.log_file.close()


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU (user + system) of the processes so far, their reaped children included."""
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def uss_mib(process: psutil.Process) -> float | None:
    """Unique set size: memory only this process holds (what another worker adds)."""
    with contextlib.suppress(psutil.Error):
        return process.memory_full_info().uss / 2**20
    return None


def postgres_processes(port: int) -> list[psutil.Process]:
    """The PostgreSQL server listening on `port` (postmaster and its backends), found by its command line."""
    for p in psutil.process_iter(["name", "cmdline"]):
        cmdline = p.info.get("cmdline") or []
        if p.info.get("name") == "postgres" and "-p" in cmdline and str(port) in cmdline:
            with contextlib.suppress(psutil.Error):
                return [p, *p.children(recursive=True)]
    for p in psutil.process_iter(["name"]):  # started some other way: any postgres listening on the port
        if p.info.get("name") != "postgres":
            continue
        with contextlib.suppress(psutil.Error):
            if any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in p.net_connections()):
                return [p, *p.children(recursive=True)]
    return []


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


# -- wrk ---------------------------------------------------------------------------------------------
def run_wrk(wrk: str, url: str, req_file: Path, connections: int, threads: int, duration: float, work: Path,
            measured: dict[str, list[psutil.Process]]) -> dict:
    """Run wrk once; its own CPU from wait4's rusage, each group of `measured` processes' CPU from
    psutil around the run (e.g. {"server": [...], "postgres": [...]})."""
    threads = min(threads, connections)
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(LUA), url, "--", str(req_file), str(threads)]
    out_path, err_path = work / "wrk.out", work / "wrk.err"
    before = {name: cpu_seconds(procs) for name, procs in measured.items()}
    machine0 = machine_busy_seconds()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > started + duration + 120:
                    raise RuntimeError("wrk did not finish in time")
                time.sleep(0.05)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, 0)
            proc.returncode = -9
            raise
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    machine = machine_busy_seconds() - machine0
    text, errors = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    match = re.search(r"^WRK_RESULT (\{.*\})$", text, re.M)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}):\n{text}\n{errors}")
    result = json.loads(match.group(1))
    result.update(wall_s=wall, threads=threads, connections=connections,
                  msgs_per_s=result["requests"] / (result["duration_us"] / 1e6),
                  p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000, max_ms=result["max_us"] / 1000,
                  wrk_cpu_s=usage.ru_utime + usage.ru_stime,
                  socket_errors=sum(v for k, v in result["errors"].items() if k != "status"))
    accounted = result["wrk_cpu_s"]
    for name, procs in measured.items():
        cpu = cpu_seconds(procs) - before[name]
        result[f"{name}_cpu_s"] = cpu
        result[f"{name}_cpu_ms_per_msg"] = 1000 * cpu / max(result["requests"], 1)
        accounted += cpu
    # Whatever else ran on the machine meanwhile (other jobs): it skews absolute numbers, not ratios.
    result["other_cpu_pct"] = max(0.0, 100 * (machine - accounted) / wall)
    return result
