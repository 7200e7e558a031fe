"""Input fingerprints change when data, code or params change, and only then (not on a touch)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrt_iac.runtime import explain_change, input_fingerprint
from mlrt_iac.runtime.fingerprint import entrypoint_source_paths


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"x": np.arange(100.0)}), tmp_path / "data" / "train.parquet")
    (tmp_path / "trainer.py").write_text("def train():\n    pass\n")
    return tmp_path


def _fp(project: Path, params: dict | None = None) -> tuple[str, dict[str, str]]:
    datasets = {"train": {"sources": [str(project / "data" / "train.parquet")]}}
    return input_fingerprint(
        datasets, [project / "trainer.py"], params or {"max_depth": 3}, base_dir=str(project)
    )


def test_stable_when_nothing_changed(project: Path) -> None:
    assert _fp(project) == _fp(project)
    fp, parts = _fp(project)
    assert set(parts) == {"data/train.parquet", "entrypoint trainer.py", "params"}


def test_touching_the_data_changes_nothing(project: Path) -> None:
    fp1, parts1 = _fp(project)
    path = project / "data" / "train.parquet"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    fp2, parts2 = _fp(project)
    assert fp1 == fp2 and parts1 == parts2


def test_a_copy_elsewhere_fingerprints_the_same(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A fresh clone: other inodes, other mtimes, same bytes."""
    clone = tmp_path_factory.mktemp("clone")
    (clone / "data").mkdir()
    (clone / "data" / "train.parquet").write_bytes((project / "data" / "train.parquet").read_bytes())
    (clone / "trainer.py").write_text((project / "trainer.py").read_text())
    assert _fp(project) == _fp(clone)


def test_rewritten_data_with_the_same_size_and_mtime_is_seen(project: Path) -> None:
    path = project / "data" / "train.parquet"
    _, parts1 = _fp(project)
    st = path.stat()
    pq.write_table(pa.table({"x": np.arange(100.0) + 1}), path)  # same shape, new values
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    _, parts2 = _fp(project)
    assert explain_change(parts1, parts2) == "data/train.parquet changed"


def test_a_change_in_the_column_pages_is_seen(project: Path) -> None:
    """The whole content counts, not only the footer: corrupt pages with the footer intact."""
    path = project / "data" / "train.parquet"
    _, parts1 = _fp(project)
    raw = bytearray(path.read_bytes())
    raw[8:40] = b"\x00" * 32
    path.write_bytes(bytes(raw))
    _, parts2 = _fp(project)
    assert explain_change(parts1, parts2) == "data/train.parquet changed"


def test_code_and_params_are_named_when_they_change(project: Path) -> None:
    _, before = _fp(project)
    (project / "trainer.py").write_text("def train():\n    return 1\n")
    _, after_code = _fp(project)
    assert explain_change(before, after_code) == "entrypoint trainer.py changed"
    _, after_params = _fp(project, {"max_depth": 4})
    assert "params changed" in explain_change(after_code, after_params)


def test_new_and_removed_files_are_reported(project: Path) -> None:
    datasets = {"train": {"sources": [str(project / "data")]}}
    _, before = input_fingerprint(datasets, [], {}, base_dir=str(project))
    pq.write_table(pa.table({"x": [1.0]}), project / "data" / "more.parquet")
    _, after = input_fingerprint(datasets, [], {}, base_dir=str(project))
    assert explain_change(before, after) == "data/more.parquet added"
    assert explain_change(after, before) == "data/more.parquet removed"


def test_entrypoint_source_paths(project: Path) -> None:
    assert entrypoint_source_paths("trainer:train", str(project)) == [str(project / "trainer.py")]
    assert entrypoint_source_paths(None, str(project)) == []
