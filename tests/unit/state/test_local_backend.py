"""The local backend's file handling: atomic writes, backup, 0600, serial, broken files."""

from __future__ import annotations

import json
import os
import random
import stat
import threading
from pathlib import Path

import pytest

from mlrt_iac.errors import StateError
from mlrt_iac.state import (
    Backend,
    LockInfo,
    ResourceState,
    StateDocument,
    load_backend,
    push_document,
    read_or_new,
)
from state.local_backend import LocalBackend

from .conftest import Workers


def doc_with(n: int, tag: str = "x") -> StateDocument:
    doc = StateDocument.new()
    for i in range(n):
        doc.set(ResourceState.new(f"compute_pool.p[{i}]", "local", f"{tag}-{i}", {"tag": tag}))
    return doc


def test_default_path_and_describe(project: Path) -> None:
    b = LocalBackend(project, {})
    assert b.path == project / ".mlrt" / "state" / "mlrt.state.json"
    assert b.describe() == "local state file .mlrt/state/mlrt.state.json"
    assert b.read() is None


def test_configured_path_relative_and_absolute(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert LocalBackend(project, {"path": "s/my.json"}).path == project / "s" / "my.json"
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "st.json"
    b = LocalBackend(project, {"path": str(elsewhere)})
    b.write(doc_with(1))
    assert elsewhere.exists() and b.describe() == f"local state file {elsewhere}"


def test_workspace_paths_leave_default_where_it_was(project: Path) -> None:
    assert LocalBackend(project, {}, "default").path == project / ".mlrt" / "state" / "mlrt.state.json"
    a = LocalBackend(project, {}, "a")
    assert a.path == project / ".mlrt" / "state" / "workspaces" / "a" / "mlrt.state.json"
    assert a.describe() == "local state file .mlrt/state/workspaces/a/mlrt.state.json"
    custom = LocalBackend(project, {"path": "s/my.json"}, "a")
    assert custom.path == project / "s" / "workspaces" / "a" / "my.json"  # beside a custom path
    wd = LocalBackend(project, {"path": "s/my.json", "workspace_dir": "envs"}, "a")
    assert wd.path == project / "envs" / "a" / "my.json"  # Terraform's workspace_dir
    wd.write(doc_with(1))
    (project / "envs" / "not a workspace").mkdir()  # a folder that is no valid name is ignored
    (project / "envs" / "empty").mkdir()  # and so is one with no state file
    assert LocalBackend(project, {"path": "s/my.json", "workspace_dir": "envs"}).workspaces() == [
        "default",
        "a",
    ]


def test_unknown_config_is_refused(project: Path) -> None:
    with pytest.raises(StateError, match='Unsupported argument "bucket"'):
        LocalBackend(project, {"bucket": "x"})


def test_found_through_the_entry_point(project: Path) -> None:
    b = load_backend("local", project, {})
    assert isinstance(b, LocalBackend) and isinstance(b, Backend)
    with pytest.raises(StateError, match='Backend "nfs" is not installed'):
        load_backend("nfs", project)


def test_serial_grows_by_one_on_every_write(project: Path) -> None:
    b = LocalBackend(project, {})
    doc = doc_with(2)
    for expected in range(1, 6):
        b.write(doc)
        assert doc.serial == expected
        back = b.read()
        assert back is not None and back.serial == expected and back.lineage == doc.lineage


def test_file_is_0600_and_stays_so(project: Path) -> None:
    old = os.umask(0)
    try:
        b = LocalBackend(project, {})
        b.write(doc_with(1))
        assert stat.S_IMODE(os.stat(b.path).st_mode) == 0o600
        os.chmod(b.path, 0o644)  # someone loosens it by hand
        b.write(doc_with(1))
        assert stat.S_IMODE(os.stat(b.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(b.backup_path).st_mode) in (0o600, 0o644)
        b.write(doc_with(1))
        assert stat.S_IMODE(os.stat(b.backup_path).st_mode) == 0o600
        lock_id = b.lock(LockInfo("apply"))
        assert stat.S_IMODE(os.stat(b.info_path).st_mode) == 0o600
        b.unlock(lock_id)
    finally:
        os.umask(old)


def test_backup_holds_the_previous_version(project: Path) -> None:
    b = LocalBackend(project, {})
    first, second = doc_with(1, "first"), doc_with(3, "second")
    b.write(first)
    assert not b.backup_path.exists()
    b.write(second)
    backup = StateDocument.from_json(b.backup_path.read_text())
    assert backup.serial == 1 and len(backup) == 1 and backup.lineage == first.lineage
    current = b.read()
    assert current is not None and len(current) == 3
    # No temp files are left behind by successful writes.
    assert sorted(p.name for p in b.path.parent.iterdir()) == ["mlrt.state.json", "mlrt.state.json.backup"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "bad-field"])
def test_broken_file_names_the_backup_and_is_left_alone(project: Path, damage: str) -> None:
    b = LocalBackend(project, {})
    doc = doc_with(4)
    b.write(doc)
    b.write(doc)
    text = b.path.read_text()
    broken = {
        "truncate": text[: len(text) // 2],
        "garbage": text.replace('"serial"', '"serial" ::', 1),
        "empty": "",
        "bad-field": text.replace('"status": "ready"', '"status": "done"', 1),
    }[damage]
    b.path.write_text(broken)
    with pytest.raises(StateError) as info:
        b.read()
    message = info.value.summary + "\n" + info.value.detail
    assert ".mlrt/state/mlrt.state.json" in info.value.summary
    assert "mlrt.state.json.backup" in info.value.detail and "serial 1" in info.value.detail
    assert "cp " in info.value.detail, message
    assert b.path.read_text() == broken  # never overwritten


def test_broken_file_without_backup_says_so(project: Path) -> None:
    b = LocalBackend(project, {})
    b.path.parent.mkdir(parents=True)
    b.path.write_text("{")
    with pytest.raises(StateError) as info:
        b.read()
    assert "There is no backup" in info.value.detail and b.path.read_text() == "{"


def test_concurrent_writers_in_threads_never_expose_a_partial_file(project: Path) -> None:
    """Unlocked writers race each other; every read in between parses."""
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        b = LocalBackend(project, {})
        try:
            for _ in range(25):
                b.write(doc_with(rnd.randint(1, 200), f"w{seed}"))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    reader = LocalBackend(project, {})
    reads = 0
    while any(t.is_alive() for t in threads) or reads == 0:
        doc = reader.read()
        if doc is not None:
            reads += 1
            assert len({r.attributes["tag"] for r in doc}) == 1  # never a mix of two writes
    for t in threads:
        t.join()
    assert not errors, errors
    assert reads > 0


def test_sigkill_of_a_writer_never_leaves_a_broken_file(project: Path, workers: Workers) -> None:
    """A real process writes in a loop; it is killed at random moments, 8 times."""
    rnd = random.Random(1234)
    b = LocalBackend(project, {})
    last_serial = 0
    for _ in range(8):
        w = workers.start("write-loop", str(project))
        assert w.event()["event"] == "started"
        target = last_serial + rnd.randint(2, 40)
        while True:  # every read while it writes must parse
            doc = b.read()
            assert doc is not None
            if doc.serial >= target:
                break
        w.kill()
        doc = b.read()
        assert doc is not None and doc.serial >= target
        backup = StateDocument.from_json(b.backup_path.read_bytes())
        # Killed between linking the backup and renaming the new file, both hold the same serial.
        assert backup.serial in (doc.serial - 1, doc.serial)
        assert json.loads(b.path.read_text())["serial"] == doc.serial
        last_serial = doc.serial


def test_read_or_new_and_push_through_the_backend(project: Path) -> None:
    b = load_backend("local", project, {})
    doc = read_or_new(b)
    assert doc.serial == 0 and len(doc) == 0
    b.write(doc)
    assert isinstance(b, LocalBackend)
    assert read_or_new(b).lineage == doc.lineage
    pushed = push_document(b, b.path.read_bytes(), read_or_new(b))
    assert pushed.lineage == doc.lineage and b.read() is not None
    with pytest.raises(StateError, match="pushed state file"):
        push_document(b, "{", doc)
