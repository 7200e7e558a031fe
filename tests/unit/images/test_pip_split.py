"""Splitting a pip --target folder into layers by distribution: the runtime/framework closure
(extras and markers evaluated for the target platform) and the workload's additions."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.images.pip_install import closure, marker_env, read_dists, split_files


def _dist(root: Path, name: str, version: str, requires: list[str], files: dict[str, str]) -> None:
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    (info / "METADATA").write_text(meta)
    rows = [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        rows.append(f"{path},sha256=x,{len(text)}")
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_closure_follows_extras_and_target_markers(tmp_path: Path) -> None:
    _dist(
        tmp_path,
        "uvicorn",
        "1.0",
        [
            "h11",
            "uvloop; extra == 'standard' and sys_platform != 'win32'",
            "colorama; sys_platform == 'win32'",
        ],
        {"uvicorn/__init__.py": ""},
    )
    _dist(tmp_path, "h11", "1.0", [], {"h11/__init__.py": ""})
    _dist(tmp_path, "uvloop", "1.0", [], {"uvloop/__init__.py": ""})
    _dist(tmp_path, "colorama", "1.0", [], {"colorama/__init__.py": ""})
    _dist(tmp_path, "Mlrt_Tiny", "1.0", ["h11"], {"mlrt_tiny/__init__.py": ""})
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "uvicorn").write_text("#!/host/python\n")
    (tmp_path / "uvicorn" / "__pycache__").mkdir()
    (tmp_path / "uvicorn" / "__pycache__" / "x.pyc").write_bytes(b"")
    (tmp_path / "uvicorn" / "extra_data.txt").write_text("not in RECORD")
    dists = read_dists(tmp_path)
    env = marker_env("3.11", "manylinux_2_17_x86_64")
    assert closure(["uvicorn[standard]==1.0"], dists, env) == {"uvicorn", "h11", "uvloop"}
    assert closure(["uvicorn"], dists, env) == {"uvicorn", "h11"}
    first, rest = split_files(tmp_path, dists, closure(["uvicorn[standard]"], dists, env))
    firsts = [rel for rel, _ in first]
    assert "uvicorn/extra_data.txt" in firsts and "h11/__init__.py" in firsts
    assert not any(rel.startswith("bin/") or rel.endswith(".pyc") for rel in firsts + [r for r, _ in rest])
    assert sorted(rel for rel, _ in rest if not rel.endswith(("METADATA", "RECORD"))) == [
        "colorama/__init__.py",
        "mlrt_tiny/__init__.py",
    ]
