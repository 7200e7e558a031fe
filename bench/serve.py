"""Benchmark the mlrt inference server against a minimal starlette + uvicorn reference.

Trains the quickstart-like model (XGBoost, 8 float features, 50 rounds), then drives each server
with 100-row requests from N concurrent keep-alive clients (raw asyncio streams on uvloop, so the
client is not the bottleneck; its CPU share is printed) and prints requests/s, p50 and p99.

    python bench/serve.py [--seconds 20] [--workers 2] [--clients 32]

Targets: mlrt >= 0.9 x the reference's throughput; at 4 x overload (4 x clients against a small
max_queue) the p99 of accepted requests <= 3 x the p99 of the normal run, every refusal a 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N_FEATURES = 8
ROWS_PER_REQUEST = 100


# ---------------------------------------------------------------- the reference server
_REF_BOOSTER: Any = None


async def _reference_predict(request: Any) -> Any:
    """The minimal reference: parse with starlette, call booster.predict, answer JSON."""
    import xgboost as xgb
    from starlette.responses import JSONResponse

    global _REF_BOOSTER
    if _REF_BOOSTER is None:
        _REF_BOOSTER = xgb.Booster()
        _REF_BOOSTER.load_model(os.environ["MLRT_BENCH_MODEL"])
    rows = (await request.json())["data"]
    x = np.array([row[1:] for row in rows], dtype=np.float64)
    preds = _REF_BOOSTER.predict(xgb.DMatrix(x, feature_names=_REF_BOOSTER.feature_names))
    return JSONResponse({"data": [[row[0], float(p)] for row, p in zip(rows, preds)]})


def _reference_app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/predict", _reference_predict, methods=["POST"])])


reference_app = _reference_app() if os.environ.get("MLRT_BENCH_MODEL") else None


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


# ---------------------------------------------------------------- load generator
@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # accepted (200) requests only
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wrong: int = 0
    seconds: float = 0.0
    client_cpu: float = 0.0

    @property
    def ok(self) -> int:
        return self.codes.get(200, 0)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000 if self.latencies else float("nan")


async def _client(
    port: int,
    requests: list[tuple[bytes, np.ndarray]],
    expected: list[np.ndarray],
    deadline: float,
    result: Result,
    offset: int,
    honour_retry_after: bool,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            raw, _ = requests[i % len(requests)]
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
                if i % 50 == 0:  # spot-check answers without making the client the bottleneck
                    got = np.array([r[1] for r in json.loads(body)["data"]], dtype=np.float32)
                    if not np.array_equal(got, expected[i % len(requests)]):
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
    expected: list[np.ndarray],
    honour_retry_after: bool = False,
) -> Result:
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = Result()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *[
                _client(port, requests, expected, deadline, result, k * 7, honour_retry_after)
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
                "GET" if path == "/health" else "POST",
                f"http://127.0.0.1:{port}{path}",
                content=b'{"data":[[0,0,0,0,0,0,0,0,0]]}' if path != "/health" else None,
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


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its descendants (from /proc)."""
    total = 0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(p, []))
    return total / 1024


def start_mlrt(
    model_dir: Path,
    port: int,
    workers: int,
    max_queue: int,
    extra: Sequence[str] = (),
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """One `python -m mlrt_iac.runtime.serving` on `port`, ready; its output to `log` if given."""
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
            cwd=ROOT,
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


def start_reference(model_dir: Path, port: int, workers: int, nthread: int | None) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        MLRT_BENCH_MODEL=str(model_dir / "model.ubj"),
        PYTHONPATH=str(Path(__file__).resolve().parent),
    )
    if nthread:  # OpenMP threads for DMatrix and predict: cores split between the workers
        env["OMP_NUM_THREADS"] = str(nthread)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "serve:reference_app",
            "--port",
            str(port),
            "--workers",
            str(workers),
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
        wait_ready(port, "/predict", proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def row(name: str, r: Result, clients: int) -> str:
    rps = r.ok / r.seconds
    non200 = {c: n for c, n in r.codes.items() if c != 200}
    return (
        f"{name:<34} {clients:>7} {rps:>9.0f} {r.pct(50):>8.2f} {r.pct(99):>8.2f} "
        f"{str(non200 or '-'):>16} {r.errors:>5} {r.wrong:>5} {r.client_cpu * 100:>6.0f}%"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overload-queue", type=int, default=8, help="max_queue of the overload run")
    args = parser.parse_args()
    warm = min(2.0, args.seconds / 5)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        booster = train_model(model_dir)
        import xgboost as xgb

        requests = build_requests(64)
        expected = [booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names)) for _, x in requests]
        cores = os.cpu_count() or 1
        print(
            f"model: xgboost binary:logistic, {N_FEATURES} features, 50 rounds; "
            f"{ROWS_PER_REQUEST} rows/request; {args.workers} workers; {cores} cores; "
            f"{args.seconds:.0f} s per run; load average before: {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'server':<34} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'non-200':>16} {'conn':>5} {'wrong':>5} {'client':>7}"
        )
        results: dict[str, Result] = {}
        runs: list[tuple[str, Any]] = [
            ("mlrt", lambda p: start_mlrt(model_dir, p, args.workers, max(64, 2 * args.clients))),
            ("reference (xgboost defaults)", lambda p: start_reference(model_dir, p, args.workers, None)),
            (
                f"reference (OMP_NUM_THREADS={max(1, cores // args.workers)})",
                lambda p: start_reference(model_dir, p, args.workers, max(1, cores // args.workers)),
            ),
        ]
        for name, starter in runs:
            port = free_port()
            proc = starter(port)
            try:
                drive(port, args.clients, warm, requests, expected)
                results[name] = r = drive(port, args.clients, args.seconds, requests, expected)
                print(row(name, r, args.clients), flush=True)
            finally:
                stop(proc)
        base = results["mlrt"]
        for name in list(results)[1:]:
            ratio = (base.ok / base.seconds) / (results[name].ok / results[name].seconds)
            print(f"throughput mlrt / {name}: {ratio:.2f} (target >= 0.90)")

        port = free_port()
        proc = start_mlrt(model_dir, port, args.workers, args.overload_queue)
        try:
            drive(port, args.clients, warm, requests, expected)
            single = drive(port, 1, max(1.0, args.seconds / 4), requests, expected)
            print(row("mlrt, one client (no queueing)", single, 1))
            rss0 = tree_rss_mib(proc.pid)
            over = drive(port, 4 * args.clients, args.seconds, requests, expected)
            rss1 = tree_rss_mib(proc.pid)
            print(
                row(f"mlrt overload, max_queue={args.overload_queue}, retry at once", over, 4 * args.clients)
            )
            polite = drive(port, 4 * args.clients, args.seconds, requests, expected, honour_retry_after=True)
            print(row("  same, clients honour Retry-After", polite, 4 * args.clients))
            alive = drive(port, 1, 1.0, requests, expected)
        finally:
            stop(proc)
        for name, r in (("retry at once", over), ("honour Retry-After", polite)):
            bad = {c: n for c, n in r.codes.items() if c not in (200, 503)}
            print(
                f"overload ({name}) p99 / normal p99 ({base.pct(99):.1f} ms): "
                f"{r.pct(99) / base.pct(99):.2f} (target <= 3.00); "
                f"non-200 answers: {sum(n for c, n in r.codes.items() if c != 200)} "
                f"(all 503: {not bad and r.errors == 0}); wrong answers: {r.wrong}"
            )
        print(
            f"server RSS before/after the overload: {rss0:.0f} -> {rss1:.0f} MiB; alive after: {alive.ok > 0}"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f} (other work on this machine skews every row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
