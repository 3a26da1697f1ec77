"""A Spark standalone cluster on 127.0.0.1, and a counting, slowing HTTP proxy.

:class:`StandaloneCluster` starts a master and workers from the ``spark-class`` script the
pyspark package ships (one JVM each, small memory, one core per worker), on free ports,
and kills every process it started, by process id, however the test ends. The workers
get the environment the executors need (the destination's secret): executors inherit
their worker's environment.

:class:`CountingProxy` stands between the executors and an emulator: it forwards each
request after a delay, counts requests and events, and calls a hook before forwarding, so
a test can act (kill a worker) in the middle of a delivery.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

HOST = "127.0.0.1"


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def python_workers(root: int) -> list[int]:
    """The Python workers below process ``root``: the children of pyspark's daemon."""
    workers = []
    for pid in descendants(root):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if b"pyspark.daemon" in Path(f"/proc/{parent}/cmdline").read_bytes():
                workers.append(pid)
        except (OSError, ValueError):
            continue
    return workers


class StandaloneCluster:
    """A master and ``workers`` one-core workers (see the module docstring)."""

    def __init__(self, folder: Path, *, workers: int = 2, worker_memory: str = "1g",
                 worker_env: dict[str, str] | None = None):
        self.folder = folder
        self.n_workers, self.worker_memory = workers, worker_memory
        self.worker_env = worker_env or {}
        self.port, self.ui_port = free_port(), free_port()
        self.master: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._started: list[int] = []  # every pid, executors included, for stop()

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP=HOST,
                   SPARK_LOG_DIR=str(self.folder / "logs"), SPARK_DAEMON_MEMORY="256m")
        env.update(extra or {})
        return env

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = open(self.folder / log, "wb")  # noqa: SIM115 - the process holds it
        process = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self._started.append(process.pid)
        return process

    def start(self, timeout: float = 60.0) -> StandaloneCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.master = self._spawn(
            ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(self.port),
             "--webui-port", str(self.ui_port)], "master.log", self.env())
        for i in range(self.n_workers):
            work = self.folder / f"worker-{i}"
            work.mkdir(exist_ok=True)
            self.workers.append(self._spawn(
                ["org.apache.spark.deploy.worker.Worker", "--host", HOST, "--cores", "1",
                 "--memory", self.worker_memory, "--webui-port", str(free_port()),
                 "--work-dir", str(work), self.url], f"worker-{i}.log",
                self.env(self.worker_env)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state and state.get("aliveworkers") == self.n_workers:
                return self
            for process in (self.master, *self.workers):
                if process.poll() is not None:
                    raise RuntimeError(f"a Spark process exited ({process.args[1]}): see "
                                       f"{self.folder}/*.log")
            time.sleep(0.5)
        raise RuntimeError(f"the cluster did not start within {timeout:.0f} s: see "
                           f"{self.folder}/*.log")

    def state(self) -> dict[str, Any] | None:
        """The master's JSON (workers, cores, applications), or None while it starts."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.ui_port}/json/", timeout=2) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker ``i``'s JVM, as a lost machine: its executor and Python workers
        die with it (they watch their parent)."""
        self._remember_descendants()
        os.kill(self.workers[i].pid, signal.SIGKILL)

    def _remember_descendants(self) -> None:
        for process in (self.master, *self.workers):
            if process is not None:
                for pid in descendants(process.pid):
                    if pid not in self._started:
                        self._started.append(pid)

    def stop(self) -> None:
        """Kill every process the cluster started (executors and Python workers too)."""
        self._remember_descendants()
        for pid in reversed(self._started):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in (self.master, *self.workers):
            if process is not None:
                process.wait(timeout=30)

    def __enter__(self) -> StandaloneCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the point of the test) is not an error here."""


class CountingProxy:
    """Forwards POSTs to ``target`` after ``delay`` seconds; counts them (see the module
    docstring). ``before(n)`` is called with each request's number before it is forwarded.
    Once ``cut`` is set, requests are dropped unanswered instead of forwarded."""

    def __init__(self, target: str, *, delay: float = 0.0,
                 before: Callable[[int], None] | None = None):
        self.target, self.delay, self.before = target.rstrip("/"), delay, before
        self.requests = 0
        self.cut = threading.Event()
        self.lock = threading.Lock()
        self.server = _QuietServer((HOST, 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.requests += 1
                    n = proxy.requests
                if proxy.before is not None:
                    proxy.before(n)
                time.sleep(proxy.delay)
                if proxy.cut.is_set():
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "authorization")}
                answer = requests.post(proxy.target + self.path, data=body, headers=headers,
                                       timeout=60)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() in ("content-type", "retry-after"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        return Handler

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
