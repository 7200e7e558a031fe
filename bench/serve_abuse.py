"""The inference server under abuse: what each attack gets, as status counts.

Trains the bench model (bench/serve.py), starts one ``python -m mlrt_iac.runtime.serving``
instance and runs the attacks of tests/security/serving_attacks.py against it:

* slowloris: N connections send a request head and 1 byte of a 1,000-byte body, then nothing;
  meanwhile a legitimate client sends requests one after the other. Counts the legitimate
  client's answers and what the slow connections got in the end.
* flood: N concurrent connections each send a ~300 KB valid request at once, keep-alive and then
  ``Connection: close`` (one-shot clients); counts the answers (a status code, or reset / closed /
  timeout). The clients' send buffer is small (--sndbuf), so bodies are still on their way when
  the server answers, as over a real network.
* nesting, huge value, huge header, many rows: the status and the size of the answer.

    python bench/serve_abuse.py [--workers 2] [--max-queue 8] [--slow 66] [--flood 300]
        [--flood-kb 300] [--sndbuf 16384] [--only slowloris,flood,single]
        [--server-arg=--request-timeout=10 ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import free_port, start_mlrt, stop, train_model, tree_rss_mib  # noqa: E402

from tests.security import serving_attacks as atk  # noqa: E402


def start(
    model_dir: Path, port: int, workers: int, max_queue: int, extra: list[str]
) -> tuple[subprocess.Popen[bytes], Path]:
    log = model_dir.parent / f"server-{port}.log"
    return start_mlrt(model_dir, port, workers, max_queue, extra, log), log


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--max-queue", type=int, default=8)
    p.add_argument("--slow", type=int, default=66, help="slowloris connections")
    p.add_argument("--legit", type=int, default=5, help="legitimate requests during slowloris")
    p.add_argument("--flood", type=int, default=300, help="concurrent large requests")
    p.add_argument("--flood-kb", type=int, default=300, help="size of each flood request in KB")
    p.add_argument(
        "--sndbuf",
        type=int,
        default=16384,
        help="client send buffer of the flood connections (0: the kernel's default)",
    )
    p.add_argument("--end-timeout", type=float, default=20.0, help="how long slow connections are watched")
    p.add_argument("--server-arg", action="append", default=[], help="extra server flag (repeat)")
    p.add_argument("--only", default="", help="comma-separated attacks to run (default: all)")
    args = p.parse_args()
    only = set(filter(None, args.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        train_model(model_dir)
        print(
            f"server: {args.workers} workers, max_queue {args.max_queue}, extra {args.server_arg or '-'}",
            flush=True,
        )
        legit = atk.post(atk.rows_body(100))
        row_bytes = len(atk.rows_body(100)) / 100
        flood_body = atk.rows_body(int(args.flood_kb * 1000 / row_bytes))

        def fresh() -> tuple[int, subprocess.Popen[bytes], Path]:
            port = free_port()
            proc, log = start(model_dir, port, args.workers, args.max_queue, args.server_arg)
            return port, proc, log

        if want("slowloris"):
            port, proc, log = fresh()
            try:
                t0 = time.monotonic()
                r = atk.run(atk.slowloris(port, args.slow, legit, args.legit, args.end_timeout))
                print(
                    f"slowloris: {args.slow} slow connections; legitimate client: {dict(r.legit)} "
                    f"(latency max {max(r.legit_seconds):.2f} s); slow connections ended with "
                    f"{dict(r.slow)}; {time.monotonic() - t0:.1f} s in all",
                    flush=True,
                )
            finally:
                stop(proc)
        if want("flood"):
            for close in (b"", b"Connection: close\r\n"):
                port, proc, log = fresh()
                try:
                    flood_raw = atk.post(flood_body, extra_headers=close)
                    rss0 = tree_rss_mib(proc.pid)
                    t0 = time.monotonic()
                    counts = atk.run(
                        atk.flood(port, args.flood, flood_raw, timeout=60, sndbuf=args.sndbuf or None)
                    )
                    print(
                        f"flood: {args.flood} concurrent requests of {len(flood_body) // 1000} KB"
                        f"{', Connection: close' if close else ', keep-alive'}: "
                        f"{dict(sorted(counts.items()))} in {time.monotonic() - t0:.1f} s; server RSS "
                        f"{rss0:.0f} -> {tree_rss_mib(proc.pid):.0f} MiB",
                        flush=True,
                    )
                    after = atk.run(atk.request(port, legit))
                    print(f"  afterwards a legitimate request: {after.outcome}", flush=True)
                finally:
                    stop(proc)
        if want("single"):
            port, proc, log = fresh()
            try:
                cases = [
                    ("nested 1,000 deep", atk.post(atk.nested(1000))),
                    ("nested 5,000 deep", atk.post(atk.nested(5000))),
                    ("value of 60 MB", atk.post(atk.huge_value(60_000_000))),
                    ("row index of 10 MB", atk.post(atk.huge_row_index(10_000_000))),
                    (
                        "header line of 60 MB",
                        atk.post(atk.rows_body(3), extra_headers=b"X-A: " + b"a" * 60_000_000 + b"\r\n"),
                    ),
                    ("1e6 rows", atk.post(atk.many_rows(1_000_000))),
                ]
                for name, raw in cases:
                    rss0 = tree_rss_mib(proc.pid)
                    t0 = time.monotonic()
                    a = atk.run(atk.request(port, raw, timeout=120))
                    print(
                        f"{name}: {a.outcome}, answer {len(a.body)} bytes "
                        f"({a.body[:100]!r}), {time.monotonic() - t0:.1f} s, server RSS "
                        f"{rss0:.0f} -> {tree_rss_mib(proc.pid):.0f} MiB",
                        flush=True,
                    )
                text = log.read_text(errors="replace")
                print(f"tracebacks in the server log: {text.count('Traceback')}", flush=True)
            finally:
                stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
