"""The content-hash cache: unchanged files are not read again, and a planted cache is not believed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from mlrt_iac.runtime.content_hashes import CACHE_FILE, FileHashCache, remote_part
from mlrt_iac.runtime.fingerprint import input_fingerprint

SECRET = b"k" * 32
OLD_NS = 1_600_000_000 * 10**9  # well before now: not "racy"


def _files(tmp_path: Path, n: int) -> list[str]:
    data = tmp_path / "data"
    data.mkdir()
    paths = []
    for i in range(n):
        path = data / f"part-{i}.csv"
        path.write_text(f"x\n{i}\n")
        os.utime(path, ns=(OLD_NS, OLD_NS))
        paths.append(str(path))
    return paths


def test_unchanged_files_are_read_once(tmp_path: Path) -> None:
    paths = _files(tmp_path, 5)
    first = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    hashes = first.local_hashes(paths)
    first.save()
    assert first.hashed == 5
    again = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    assert again.local_hashes(paths) == hashes
    assert again.hashed == 0


def test_a_touched_file_is_read_again_and_hashes_the_same(tmp_path: Path) -> None:
    paths = _files(tmp_path, 3)
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    before = cache.local_hashes(paths)
    cache.save()
    os.utime(paths[1], ns=(OLD_NS, OLD_NS + 10**9))
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    assert cache.local_hashes(paths) == before
    assert cache.hashed == 1


def test_a_file_written_just_now_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "fresh.csv"
    path.write_text("x\n1\n")  # mtime is now: a write in the same tick could go unseen
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    cache.local_hashes([str(path)])
    cache.save()
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    cache.local_hashes([str(path)])
    assert cache.hashed == 1


def test_an_edited_cache_is_ignored_whole(tmp_path: Path) -> None:
    paths = _files(tmp_path, 2)
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    truth = cache.local_hashes(paths)
    cache.save()
    file = tmp_path / "cache" / CACHE_FILE
    head, mac, payload = file.read_bytes().split(b"\n", 2)
    files = json.loads(payload)
    files[paths[0]][4] = "0" * 64  # hide a change to part-0
    file.write_bytes(b"\n".join([head, mac, json.dumps(files).encode()]))
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    assert cache.local_hashes(paths) == truth
    assert cache.hashed == 2


def test_a_cache_made_under_another_key_is_ignored(tmp_path: Path) -> None:
    paths = _files(tmp_path, 2)
    planted = FileHashCache.in_dir(tmp_path / "cache", b"x" * 32)
    planted.local_hashes(paths)
    planted.save()
    cache = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    cache.local_hashes(paths)
    assert cache.hashed == 2


def test_without_a_key_nothing_is_written(tmp_path: Path) -> None:
    paths = _files(tmp_path, 2)
    cache = FileHashCache.in_dir(tmp_path / "cache", None)
    cache.local_hashes(paths)
    cache.save()
    assert not (tmp_path / "cache").exists()


def test_the_fingerprint_reads_a_warm_project_not_at_all(tmp_path: Path) -> None:
    paths = _files(tmp_path, 4)
    datasets = {"train": {"sources": [str(tmp_path / "data")]}}
    cold = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    fp1, _ = input_fingerprint(datasets, [], {}, base_dir=str(tmp_path), cache=cold)
    warm = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    fp2, _ = input_fingerprint(datasets, [], {}, base_dir=str(tmp_path), cache=warm)
    assert (cold.hashed, warm.hashed) == (4, 0)
    assert fp1 == fp2
    Path(paths[2]).write_text("x\n99\n")
    changed = FileHashCache.in_dir(tmp_path / "cache", SECRET)
    fp3, _ = input_fingerprint(datasets, [], {}, base_dir=str(tmp_path), cache=changed)
    assert fp3 != fp1 and changed.hashed == 1


# --- remote objects: a real S3 endpoint (moto's server) on 127.0.0.1 ---------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[pafs.S3FileSystem, object, int]]:
    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket="data")
        fs = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            region="us-east-1",
        )
        yield fs, client, port
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_remote_object_is_known_by_its_etag(s3: tuple[pafs.S3FileSystem, object, int]) -> None:
    fs, client, _ = s3
    client.put_object(Bucket="data", Key="train.csv", Body=b"x\n1\n")  # type: ignore[attr-defined]
    first = remote_part(fs, "data/train.csv")
    assert first.startswith("remote:ETag=")
    client.put_object(Bucket="data", Key="train.csv", Body=b"x\n1\n")  # type: ignore[attr-defined]
    assert remote_part(fs, "data/train.csv") == first  # rewritten, same bytes
    client.put_object(Bucket="data", Key="train.csv", Body=b"x\n2\n")  # type: ignore[attr-defined]
    assert remote_part(fs, "data/train.csv") != first


def test_a_training_on_s3_data_re_runs_only_when_an_object_changes(
    s3: tuple[pafs.S3FileSystem, object, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client, port = s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client.put_object(Bucket="data", Key="sales/a.csv", Body=b"x\n1\n")  # type: ignore[attr-defined]
    client.put_object(Bucket="data", Key="sales/b.csv", Body=b"x\n2\n")  # type: ignore[attr-defined]
    source = f"s3://data/sales?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    datasets = {"train": {"sources": [source]}}
    fp1, parts1 = input_fingerprint(datasets, [], {})
    assert set(parts1) == {"data/sales/a.csv", "data/sales/b.csv", "params"}
    client.put_object(Bucket="data", Key="sales/b.csv", Body=b"x\n2\n")  # type: ignore[attr-defined]
    assert input_fingerprint(datasets, [], {}) == (fp1, parts1)  # rewritten, same bytes
    client.put_object(Bucket="data", Key="sales/b.csv", Body=b"x\n3\n")  # type: ignore[attr-defined]
    fp3, parts3 = input_fingerprint(datasets, [], {})
    assert fp3 != fp1 and [k for k in parts3 if parts3[k] != parts1[k]] == ["data/sales/b.csv"]
