"""The mlrt inference server beside fair baselines, on the same model, load and machine.

Trains the quickstart-like model (XGBoost binary:logistic, 8 float features, 50 rounds), starts
every server at once, then drives each in turn with 100-row requests from N keep-alive clients
(``wrk -t1`` when installed, else a raw-asyncio client on uvloop), three rounds interleaved, and
prints the best round of each with the load average when it ran. Every answer is checked: the first
answer to each request body is compared with ``booster.predict`` (float32, exactly); every later
one must be the same bytes, or decode to the same numbers.

Rows:
* mlrt: ``python -m mlrt_iac.runtime.serving --workers W`` with its defaults (micro-batching on);
* mlrt, --batch-rows 0: the same, every request predicted on its own;
* mlrt @ DIR (``--compare-root DIR``): the server from another checkout, e.g. the code before, with
  its defaults and with ``--batch-rows 0``;
* lean ASGI: uvicorn (uvloop + httptools, W workers) running a bare app that does the same work
  (orjson, ``np.array``, ``inplace_predict`` with nthread 1, orjson out): no admission control,
  no metrics, no limits;
* MLServer 1.7.1 (``--mlserver``): parallel_workers W, OMP_NUM_THREADS=1, the V2 protocol, in a
  virtual environment the benchmark creates when asked (``--mlserver-venv``);
* HTTP floor: uvicorn with an app that reads the body and answers a constant (not checked).

    python bench/serve.py [--seconds 10] [--rounds 3] [--workers 2] [--clients 32] [--mlserver]
        [--compare-root DIR] [--client wrk|python] [--skip-overload] [--skip-split | --only-split]

Then the split run (``--only-split`` runs just it, in seconds): one client sends the same
10,000-row request, one after another, to a server with ``--max-batch-rows 1000`` (each request cut
into 10 model calls of 1,000 rows, answered as one) and to one without (one 10,000-row ``predict``
call); every answer is checked against ``booster.predict`` and both servers' answers must be the
same bytes.

Targets: mlrt >= 0.95 x lean, and >= 1.3 x lean with micro-batching at 32 clients with a p99 no
worse than without it. Then the overload run: at 4 x clients against a small max_queue the p99 of
accepted requests <= 3 x the p99 of the normal run, every refusal a 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 8
ROWS_PER_REQUEST = 100
MLSERVER_VERSION = "1.7.1"
MLSERVER_PACKAGES = (
    f"mlserver=={MLSERVER_VERSION}",
    f"mlserver-xgboost=={MLSERVER_VERSION}",
    "uvloop==0.21.0",
)
DEFAULT_MLSERVER_VENV = Path.home() / ".cache" / "mlrt-bench" / f"mlserver-{MLSERVER_VERSION}"


# ---------------------------------------------------------------- the baseline apps (run by uvicorn)
_BOOSTER: Any = None


def _booster() -> Any:
    global _BOOSTER
    if _BOOSTER is None:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(os.environ["MLRT_BENCH_MODEL"])
        booster.set_param({"nthread": 1})
        _BOOSTER = booster
    return _BOOSTER


async def _read_body(receive: Any) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _answer(send: Any, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def lean_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same work as mlrt's hot path and nothing else: orjson, np.array, inplace_predict, orjson."""
    import orjson

    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    if scope["path"] == "/health":
        await _answer(send, b'{"status":"ok"}')
        return
    rows = orjson.loads(body)["data"]
    preds = _booster().inplace_predict(np.array(rows)[:, 1:])
    await _answer(send, orjson.dumps({"data": [[r[0], p] for r, p in zip(rows, preds.tolist())]}))


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The HTTP floor: read the body, answer a constant."""
    if scope["type"] != "http":
        return
    await _read_body(receive)
    await _answer(send, b'{"data":[]}')


if os.environ.get("MLRT_BENCH_MODEL"):  # a uvicorn worker of the lean app: load before serving
    _booster()


# ---------------------------------------------------------------- model and requests
def train_model(model_dir: Path) -> Any:
    import pandas as pd
    import xgboost as xgb

    rng = np.random.default_rng(7)
    x = rng.normal(size=(20_000, N_FEATURES))
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] + rng.normal(scale=0.5, size=len(x))) > 0
    cols = [f"f{i}" for i in range(N_FEATURES)]
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1},
        xgb.DMatrix(pd.DataFrame(x, columns=cols), label=y.astype(int)),
        50,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "model.ubj"))
    meta = {
        "framework": "xgboost",
        "framework_version": xgb.__version__,
        "mlrt_version": "0.1.0",
        "model_file": "model.ubj",
        "input_cols": cols,
        "input_dtypes": {c: "float64" for c in cols},
        "label_col": "label",
        "objective": "binary:logistic",
        "num_classes": 2,
        "metrics": {},
        "input_fingerprint": "bench",
        "created_at": "1970-01-01T00:00:00Z",
    }
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    return booster


def build_requests(n: int) -> list[tuple[bytes, np.ndarray]]:
    """Raw HTTP requests (and their feature rows) for POST /predict with 100 rows each."""
    rng = np.random.default_rng(11)
    out = []
    for _ in range(n):
        x = rng.normal(size=(ROWS_PER_REQUEST, N_FEATURES))
        body = json.dumps({"data": [[i, *map(float, row)] for i, row in enumerate(x)]}).encode()
        head = (
            f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append((head + body, x))
    return out


# ---------------------------------------------------------------- checking answers
def decode_mlrt(body: bytes) -> np.ndarray:
    return np.array([r[1] for r in json.loads(body)["data"]], dtype=np.float32)


def decode_v2(body: bytes) -> np.ndarray:
    return np.array(json.loads(body)["outputs"][0]["data"], dtype=np.float32).reshape(-1)


class Checker:
    """Every answer to request k equals expected[k]: decoded and compared the first time (and
    whenever the bytes differ), by its bytes after that."""

    def __init__(self, expected: Sequence[np.ndarray], decode: Callable[[bytes], np.ndarray]) -> None:
        self.expected = [np.asarray(e, dtype=np.float32).reshape(-1) for e in expected]
        self.decode = decode
        self.known: dict[int, bytes] = {}

    def ok(self, k: int, body: bytes) -> bool:
        if self.known.get(k) == body:
            return True
        try:
            good = bool(np.array_equal(self.decode(body), self.expected[k]))
        except (ValueError, KeyError, TypeError, IndexError):
            good = False
        if good:
            self.known[k] = body
        return good


# ---------------------------------------------------------------- load generator: python client
@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # accepted (200) requests only
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wrong: int = 0
    checked: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0
    p50_ms: float | None = None  # from wrk (all answers); else computed from latencies
    p99_ms: float | None = None
    load: float = 0.0  # 1-minute load average when the run started
    server_cpu_s: float = float("nan")  # CPU seconds the server used during the run

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: what a loaded machine skews least."""
        answered = sum(self.codes.values())
        return self.server_cpu_s * 1000 / answered if answered else float("nan")

    @property
    def ok(self) -> int:
        return self.codes.get(200, 0)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if q == 50 and self.p50_ms is not None:
            return self.p50_ms
        if q == 99 and self.p99_ms is not None:
            return self.p99_ms
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


async def _client(
    port: int,
    requests: list[tuple[bytes, np.ndarray]],
    checker: Checker | None,
    deadline: float,
    result: Result,
    offset: int,
    honour_retry_after: bool,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            k = i % len(requests)
            raw, _ = requests[k]
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            t1 = time.perf_counter()
            result.codes[status] = result.codes.get(status, 0) + 1
            if status == 200:
                result.latencies.append(t1 - t0)
                if checker is not None:
                    result.checked += 1
                    if not checker.ok(k, body):
                        result.wrong += 1
            elif status == 503 and honour_retry_after:
                await asyncio.sleep(1.0)
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            i += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        result.errors += 1
    finally:
        writer.close()


def drive(
    port: int,
    clients: int,
    seconds: float,
    requests: list[tuple[bytes, np.ndarray]],
    expected: list[np.ndarray] | None,
    honour_retry_after: bool = False,
    decode: Callable[[bytes], np.ndarray] = decode_mlrt,
) -> Result:
    """Drive ``clients`` keep-alive connections for ``seconds``; every 200 is checked against
    ``expected`` (one array per request; None: not checked)."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = Result(load=os.getloadavg()[0])
    checker = Checker(expected, decode) if expected is not None else None

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *[
                _client(port, requests, checker, deadline, result, k * 7, honour_retry_after)
                for k in range(clients)
            ]
        )

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    runner(main())
    result.seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / result.seconds
    return result


# ---------------------------------------------------------------- load generator: wrk
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open([[%(body)s]], "rb"); wrk.body = f:read("*a"); f:close()
f = io.open([[%(answer)s]], "rb"); local expected = f:read("*a"); f:close()
local check = %(check)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; wrong = 0; other = 0 end
function response(status, headers, body)
  if status ~= 200 then other = other + 1
  else
    ok = ok + 1
    if check and body ~= expected then wrong = wrong + 1 end
  end
end
function done(summary, latency, requests)
  local o, w, n = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); w = w + t:get("wrong"); n = n + t:get("other") end
  local e = summary.errors
  io.write(string.format("MLRT %%d %%d %%d %%d %%d %%f %%f\\n", o, w, n,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def drive_wrk(
    port: int, path: str, clients: int, seconds: float, body: bytes, answer: bytes | None, work: Path
) -> Result:
    """``wrk -t1 -c clients``: every answer must be ``answer`` byte for byte (None: not checked)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "body").write_bytes(body)
    (work / "answer").write_bytes(answer or b"")
    script = work / "check.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "body": str(work / "body"),
            "answer": str(work / "answer"),
            "check": "true" if answer is not None else "false",
        }
    )
    result = Result(load=os.getloadavg()[0])
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    for line in out.stdout.splitlines():
        if line.startswith("MLRT "):
            ok, wrong, other, errors, duration_us, p50_us, p99_us = line.split()[1:]
            result.codes[200] = int(ok)
            if int(other):
                result.codes[0] = int(other)  # wrk does not tell which non-200 statuses
            result.wrong = int(wrong)
            result.checked = int(ok) if answer is not None else 0
            result.errors = int(errors)
            result.seconds = float(duration_us) / 1e6
            result.p50_ms = float(p50_us) / 1000
            result.p99_ms = float(p99_us) / 1000
            break
    else:
        raise RuntimeError(f"wrk gave no result ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.client_cpu = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / wall
    return result


# ---------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            r = httpx.request(
                "POST" if path == "/predict" else "GET",
                f"http://127.0.0.1:{port}{path}",
                content=b'{"data":[[0,0,0,0,0,0,0,0,0]]}' if path == "/predict" else None,
                timeout=2,
            )
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tree(pid: int) -> list[int]:
    """A process and its descendants (the runtime's own /proc walk)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from mlrt_iac.runtime.strays import descendants

    return [pid, *descendants(pid)]


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (from /proc)."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (from /proc)."""
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def start_mlrt(
    model_dir: Path,
    port: int,
    workers: int,
    max_queue: int,
    extra: Sequence[str] = (),
    log: Path | None = None,
    root: Path = ROOT,
) -> subprocess.Popen[bytes]:
    """One `python -m mlrt_iac.runtime.serving` (of the checkout at `root`) on `port`, ready; its
    output to `log` if given."""
    out = log.open("wb") if log is not None else None
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlrt_iac.runtime.serving",
                "--model-uri",
                str(model_dir),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--max-queue",
                str(max_queue),
                *extra,
            ],
            cwd=root,
            env=dict(os.environ, PYTHONPATH=str(root)),
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else subprocess.DEVNULL,
        )
    finally:
        if out is not None:
            out.close()
    try:
        wait_ready(port, "/health", proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def start_asgi(app: str, model_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """uvicorn (uvloop + httptools) with ``workers`` processes running ``serve:<app>``."""
    env = dict(
        os.environ,
        MLRT_BENCH_MODEL=str(model_dir / "model.ubj"),
        PYTHONPATH=str(Path(__file__).resolve().parent),
        OMP_NUM_THREADS="1",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"serve:{app}",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, "/health", proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def ensure_mlserver(venv: Path) -> tuple[Path | None, str]:
    """MLServer's own virtual environment (created and installed when missing); the path of its
    ``mlserver`` command, or None and why not."""
    exe = venv / "bin" / "mlserver"
    if exe.is_file():
        return exe, ""
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / f"{venv.name}-install.log"
    print(f"installing MLServer {MLSERVER_VERSION} into {venv} (log: {log}) ...", flush=True)
    with log.open("w") as out:
        # the system's site-packages (xgboost, numpy) are reused; MLServer's pins win in the venv
        steps = [
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
            [str(venv / "bin" / "pip"), "install", *MLSERVER_PACKAGES],
        ]
        for cmd in steps:
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
                lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
                return None, f"install failed: {lines[-1][:120] if lines else '?'} (see {log})"
    return (exe, "") if exe.is_file() else (None, f"install gave no mlserver command (see {log})")


def start_mlserver(
    exe: Path, model_dir: Path, port: int, workers: int, work: Path
) -> subprocess.Popen[bytes]:
    """MLServer with the XGBoost runtime, parallel_workers ``workers``, OMP_NUM_THREADS=1."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_dir / "model.ubj", work / "model.ubj")
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": workers,
        "debug": False,
    }
    (work / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": "bench",
        "implementation": "mlserver_xgboost.XGBoostModel",
        "parameters": {"uri": "./model.ubj", "version": "v1"},
    }
    (work / "model-settings.json").write_text(json.dumps(model_settings))
    log = (work / "mlserver.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "start", str(work)],
        cwd=work,
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=""),
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        wait_ready(port, "/v2/models/bench/ready", proc, timeout=180)
    except BaseException:
        stop(proc)
        raise
    return proc


def v2_body(x: np.ndarray) -> bytes:
    return json.dumps(
        {
            "id": "bench",
            "inputs": [
                {
                    "name": "input-0",
                    "shape": list(x.shape),
                    "datatype": "FP64",
                    "data": x.reshape(-1).tolist(),
                }
            ],
        }
    ).encode()


def http_request(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


@dataclass
class Target:
    """A running server and how to talk to it."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    path: str = "/predict"
    v2: bool = False  # MLServer's V2 inference protocol
    checked: bool = True
    runs: list[Result] = field(default_factory=list)

    @property
    def best(self) -> Result:
        return max(self.runs, key=lambda r: r.rps)


def table_row(
    name: str, r: Result, clients: int, runs: Sequence[Result] = (), vs: float | None = None
) -> str:
    non200 = {c: n for c, n in r.codes.items() if c != 200}
    spread = "/".join(f"{x.rps:.0f}" for x in runs) if runs else "-"
    wrong = f"{r.wrong}/{r.checked}" if r.checked else "-"
    ratio = f"{r.rps / vs:.2f}" if vs else "-"
    return (
        f"{name:<30} {clients:>4} {r.rps:>8.0f} {ratio:>6} {r.pct(50):>7.2f} {r.pct(99):>7.2f} "
        f"{str(non200 or '-'):>10} {r.errors:>4} {wrong:>13} {r.cpu_ms_per_request:>6.3f} {r.load:>5.1f} "
        f"{r.client_cpu * 100:>6.0f}%  {spread}"
    )


HEADER = (
    f"{'server':<30} {'conn':>4} {'req/s':>8} {'x lean':>6} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'non-200':>10} {'errs':>4} {'wrong/checked':>13} {'cpu ms':>6} {'load':>5} {'client':>7}  "
    "req/s of each round"
)


def row(name: str, r: Result, clients: int) -> str:
    """One result in the columns of the overload runs (and bench/ray_overhead.py)."""
    non200 = {c: n for c, n in r.codes.items() if c != 200}
    return (
        f"{name:<34} {clients:>7} {r.rps:>9.0f} {r.pct(50):>8.2f} {r.pct(99):>8.2f} "
        f"{str(non200 or '-'):>16} {r.errors:>5} {r.wrong:>5} {r.client_cpu * 100:>6.0f}%"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is shown")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--mlserver", action="store_true", help=f"run MLServer {MLSERVER_VERSION} (installs it)"
    )
    parser.add_argument("--mlserver-venv", type=Path, default=DEFAULT_MLSERVER_VENV)
    parser.add_argument(
        "--compare-root", type=Path, action="append", default=[], help="another checkout's server"
    )
    parser.add_argument("--skip-overload", action="store_true", help="leave out the overload runs")
    parser.add_argument("--overload-queue", type=int, default=8, help="max_queue of the overload run")
    parser.add_argument("--skip-split", action="store_true", help="leave out the max_batch_rows split run")
    parser.add_argument("--only-split", action="store_true", help="run only the max_batch_rows split run")
    parser.add_argument("--split-requests", type=int, default=20, help="requests per server per split round")
    args = parser.parse_args()
    if args.only_split:
        with tempfile.TemporaryDirectory() as tmp_name:
            model_dir = Path(tmp_name) / "model"
            split(model_dir, train_model(model_dir), args)
        return 0
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), or use --client python")
    warm = min(2.0, args.seconds / 5)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = tmp / "model"
        booster = train_model(model_dir)
        import xgboost as xgb

        requests = build_requests(64)
        expected = [booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)) for _, x in requests]
        v2_requests = [(http_request("/v2/models/bench/infer", v2_body(x)), x) for _, x in requests]
        cores = os.cpu_count() or 1
        print(
            f"model: xgboost binary:logistic, {N_FEATURES} features, 50 rounds; {ROWS_PER_REQUEST} "
            f"rows/request; {args.workers} workers per server; {cores} cores; {args.clients} keep-alive "
            f"clients ({'wrk -t1' if use_wrk else 'python asyncio client'}); {args.seconds:g} s per run, "
            f"best of {args.rounds} interleaved rounds; load average before: "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}",
            flush=True,
        )
        queue = max(64, 2 * args.clients)
        targets: list[Target] = []
        notes: list[str] = []
        try:
            port = free_port()
            targets.append(Target("mlrt", port, start_mlrt(model_dir, port, args.workers, queue)))
            port = free_port()
            proc = start_mlrt(model_dir, port, args.workers, queue, ["--batch-rows", "0"])
            targets.append(Target("mlrt, --batch-rows 0", port, proc))
            for root in args.compare_root:  # the other checkout with both settings, side by side
                port = free_port()
                proc = start_mlrt(model_dir, port, args.workers, queue, root=root.resolve())
                targets.append(Target(f"mlrt @ {root}"[:30], port, proc))
                port = free_port()
                proc = start_mlrt(
                    model_dir, port, args.workers, queue, ["--batch-rows", "0"], root=root.resolve()
                )
                targets.append(Target(f"mlrt @ {root}, --batch-rows 0"[-30:], port, proc))
            port = free_port()
            targets.append(Target("lean ASGI", port, start_asgi("lean_app", model_dir, port, args.workers)))
            if args.mlserver:
                exe, why = ensure_mlserver(args.mlserver_venv)
                if exe is None:
                    notes.append(f"MLServer {MLSERVER_VERSION}: not run ({why})")
                else:
                    port = free_port()
                    try:
                        proc = start_mlserver(exe, model_dir, port, args.workers, tmp / "mlserver")
                        targets.append(
                            Target(
                                f"MLServer {MLSERVER_VERSION}", port, proc, "/v2/models/bench/infer", v2=True
                            )
                        )
                    except RuntimeError as exc:
                        log = tmp / "mlserver" / "mlserver.log"
                        tail = (
                            log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                        )
                        notes.append(f"MLServer {MLSERVER_VERSION}: not run (did not start: {exc}; {tail})")
            else:
                notes.append(f"MLServer {MLSERVER_VERSION}: not run (pass --mlserver to install and run it)")
            port = free_port()
            targets.append(Target("HTTP floor", port, start_asgi("floor_app", model_dir, port, args.workers)))
            targets[-1].checked = False

            answers = {t.name: _first_answer(t, requests, v2_requests, expected) for t in targets}

            def run(t: Target, seconds: float) -> Result:
                reqs = v2_requests if t.v2 else requests
                decode = decode_v2 if t.v2 else decode_mlrt
                cpu0 = tree_cpu_seconds(t.proc.pid)
                if use_wrk:
                    body = reqs[0][0].split(b"\r\n\r\n", 1)[1]
                    answer = answers[t.name] if t.checked else None
                    r = drive_wrk(t.port, t.path, args.clients, seconds, body, answer, tmp / "wrk")
                else:
                    checked = expected if t.checked else None
                    r = drive(t.port, args.clients, seconds, reqs, checked, decode=decode)
                r.server_cpu_s = tree_cpu_seconds(t.proc.pid) - cpu0
                return r

            for t in targets:
                run(t, warm)
            for n in range(args.rounds):
                print(f"round {n + 1}: load average {os.getloadavg()[0]:.1f}", flush=True)
                for t in targets:
                    t.runs.append(run(t, args.seconds))
        finally:
            for t in targets:
                stop(t.proc)
        lean = next(t for t in targets if t.name == "lean ASGI").best.rps
        print(HEADER)
        for t in targets:
            print(table_row(t.name, t.best, args.clients, t.runs, lean))
        for note in notes:
            print(note)
        mlrt, solo = targets[0].best, targets[1].best
        print(
            f"mlrt --batch-rows 0 / lean: {solo.rps / lean:.2f} (target >= 0.95); mlrt (batching) / lean: "
            f"{mlrt.rps / lean:.2f} (target >= 1.30); p99 batching / without: "
            f"{mlrt.pct(99) / solo.pct(99):.2f} (target <= 1.00); wrong answers: "
            f"{sum(r.wrong for t in targets for r in t.runs)} of "
            f"{sum(r.checked for t in targets for r in t.runs)} checked"
        )
        if not args.skip_overload:
            overload(model_dir, args, requests, expected, warm, mlrt)
        if not args.skip_split:
            split(model_dir, booster, args)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work skews every row)")
    return 0


def _first_answer(
    t: Target,
    requests: list[tuple[bytes, np.ndarray]],
    v2_requests: list[tuple[bytes, np.ndarray]],
    expected: list[np.ndarray],
) -> bytes:
    """The server's answer to the first request, checked against booster.predict."""
    import httpx

    raw = (v2_requests if t.v2 else requests)[0][0]
    r = httpx.post(
        f"http://127.0.0.1:{t.port}{t.path}",
        content=raw.split(b"\r\n\r\n", 1)[1],
        headers={"content-type": "application/json"},
        timeout=30,
    )
    if t.checked:
        got = (decode_v2 if t.v2 else decode_mlrt)(r.content)
        if r.status_code != 200 or not np.array_equal(got, np.asarray(expected[0], dtype=np.float32)):
            raise RuntimeError(f"{t.name} answers wrongly: {r.status_code} {r.text[:300]}")
    return r.content


def overload(
    model_dir: Path,
    args: argparse.Namespace,
    requests: list[tuple[bytes, np.ndarray]],
    expected: list[np.ndarray],
    warm: float,
    base: Result,
) -> None:
    """Admission control: 4 x the clients against a small max_queue (python client: it tells 503s)."""
    print(
        f"\n{'mlrt under overload':<34} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-200':>16} {'conn':>5} {'wrong':>5} {'client':>7}"
    )
    port = free_port()
    proc = start_mlrt(model_dir, port, args.workers, args.overload_queue)
    try:
        drive(port, args.clients, warm, requests, expected)
        normal = drive(port, args.clients, args.seconds, requests, expected)
        print(row("mlrt, normal load (python client)", normal, args.clients))
        single = drive(port, 1, max(1.0, args.seconds / 4), requests, expected)
        print(row("mlrt, one client (no queueing)", single, 1))
        rss0 = tree_rss_mib(proc.pid)
        over = drive(port, 4 * args.clients, args.seconds, requests, expected)
        rss1 = tree_rss_mib(proc.pid)
        print(row(f"overload, max_queue={args.overload_queue}, retry at once", over, 4 * args.clients))
        polite = drive(port, 4 * args.clients, args.seconds, requests, expected, honour_retry_after=True)
        print(row("  same, clients honour Retry-After", polite, 4 * args.clients))
        alive = drive(port, 1, 1.0, requests, expected)
    finally:
        stop(proc)
    for name, r in (("retry at once", over), ("honour Retry-After", polite)):
        bad = {c: n for c, n in r.codes.items() if c not in (200, 503)}
        print(
            f"overload ({name}) p99 / normal p99 ({normal.pct(99):.1f} ms): "
            f"{r.pct(99) / normal.pct(99):.2f} (target <= 3.00); "
            f"non-200 answers: {sum(n for c, n in r.codes.items() if c != 200)} "
            f"(all 503: {not bad and r.errors == 0}); wrong answers: {r.wrong} of {r.checked}"
        )
    print(f"server RSS before/after the overload: {rss0:.0f} -> {rss1:.0f} MiB; alive after: {alive.ok > 0}")


SPLIT_ROWS = 10_000
SPLIT_BATCH_ROWS = 1000


def split(model_dir: Path, booster: Any, args: argparse.Namespace) -> None:
    """A 10,000-row request cut by --max-batch-rows 1000 (10 model calls, one answer) against one
    10,000-row predict call: one client, requests one after another, interleaved rounds."""
    import httpx
    import xgboost as xgb

    x = np.random.default_rng(13).normal(size=(SPLIT_ROWS, N_FEATURES))
    body = json.dumps({"data": [[i, *map(float, row)] for i, row in enumerate(x)]}).encode()
    want = booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)).astype(np.float32)
    print(
        f"\n{'10,000-row requests, 1 client':<34} {'calls':>5} {'req/s':>8} {'rows/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} {'wrong/checked':>13}  p50 ms of each round",
        flush=True,
    )
    servers = {
        "one 10,000-row predict call": ([], SPLIT_ROWS // SPLIT_ROWS),
        f"max_batch_rows = {SPLIT_BATCH_ROWS}": (
            ["--max-batch-rows", str(SPLIT_BATCH_ROWS)],
            SPLIT_ROWS // SPLIT_BATCH_ROWS,
        ),
    }
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    times: dict[str, list[list[float]]] = {name: [] for name in servers}
    bad: dict[str, list[int]] = {name: [0, 0, 0] for name in servers}  # non-200, wrong, checked
    answers: dict[str, bytes] = {}
    try:
        for name, (extra, _) in servers.items():
            port = free_port()
            procs[name] = (start_mlrt(model_dir, port, args.workers, 64, extra), port)
        with httpx.Client(timeout=60, headers={"content-type": "application/json"}) as client:
            for n in range(args.rounds + 1):  # the first round warms up and is not counted
                for name, (_, port) in procs.items():
                    url = f"http://127.0.0.1:{port}/predict"
                    took: list[float] = []
                    for _ in range(args.split_requests):
                        t0 = time.perf_counter()
                        r = client.post(url, content=body)
                        took.append(time.perf_counter() - t0)
                        if r.status_code != 200:
                            bad[name][0] += 1
                            continue
                        if name not in answers:
                            answers[name] = r.content
                            got = decode_mlrt(r.content)
                            order = [row[0] for row in json.loads(r.content)["data"]] == list(
                                range(SPLIT_ROWS)
                            )
                            bad[name][1] += int(not (order and np.array_equal(got, want)))
                            bad[name][2] += 1
                        else:
                            bad[name][1] += int(r.content != answers[name])
                            bad[name][2] += 1
                    if n:
                        times[name].append(took)
    finally:
        for proc, _ in procs.values():
            stop(proc)
    for name, (_, calls) in servers.items():
        rounds = times[name]
        best = min(rounds, key=lambda t: float(np.median(t)))
        ms = np.array(best) * 1000
        rps = len(best) / sum(best)
        non200, wrong, checked = bad[name]
        per_round = "/".join(f"{np.median(t) * 1000:.1f}" for t in rounds)
        print(
            f"{name:<34} {calls:>5} {rps:>8.1f} {rps * SPLIT_ROWS:>9.0f} {np.percentile(ms, 50):>8.2f} "
            f"{np.percentile(ms, 99):>8.2f} {non200 or '-':>8} {f'{wrong}/{checked}':>13}  {per_round}"
        )
    same = len(set(answers.values())) == 1 and len(answers) == len(servers)
    one, cut = (min(float(np.median(t)) for t in times[name]) for name in servers)
    print(
        f"split / one call p50: {cut / one:.2f}; both answers the same bytes: {same} "
        f"({args.split_requests} requests per server per round, best of {args.rounds} rounds)"
    )


if __name__ == "__main__":
    sys.exit(main())
