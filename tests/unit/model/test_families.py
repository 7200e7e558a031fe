from mlrt_iac.model import BUILTIN_FAMILIES, build_catalog

from ._helpers import line_of, make, only, provider, run


def test_builtin_table_matches_snowflake() -> None:
    assert (BUILTIN_FAMILIES["CPU_X64_XS"].cpus, BUILTIN_FAMILIES["CPU_X64_XS"].memory_gib) == (1, 6)
    assert (BUILTIN_FAMILIES["CPU_X64_L"].cpus, BUILTIN_FAMILIES["CPU_X64_L"].memory_gib) == (28, 116)
    assert (BUILTIN_FAMILIES["HIGHMEM_X64_L"].cpus, BUILTIN_FAMILIES["HIGHMEM_X64_L"].memory_gib) == (
        124,
        984,
    )
    assert BUILTIN_FAMILIES["GPU_NV_M"].gpus == 4 and BUILTIN_FAMILIES["GPU_NV_M"].gpu_type == "NVIDIA A10G"
    assert not BUILTIN_FAMILIES["CPU_X64_M"].has_gpu
    assert len(BUILTIN_FAMILIES) == 11


def test_known_family_passes_and_is_canonicalised() -> None:
    models, diags = run(make("compute_pool", "p", {"instance_family": "gpu_nv_s"}))
    assert not diags
    assert models["compute_pool.p"].instance_family == "GPU_NV_S"


def test_unknown_family_lists_valid_ones_and_nearest() -> None:
    _, diags = run(
        make(
            "compute_pool", "p", {"instance_family": "CPU_X64_XM"}, line=2, attr_lines={"instance_family": 3}
        )
    )
    d = only(diags, "Unknown instance family")
    assert 'Did you mean "CPU_X64_M"?' in d.detail
    assert "HIGHMEM_X64_L" in d.detail and "GPU_NV_XS" in d.detail
    assert line_of(d) == 3


def test_provider_declares_a_custom_family() -> None:
    cfg = provider(
        "local", {"instance_family": {"MY_FAM": {"cpus": 4, "memory_gib": 16, "gpus": 1, "gpu_type": "T4"}}}
    )
    catalog = build_catalog([cfg])
    fam = catalog.get("MY_FAM")
    assert fam is not None and fam.gpus == 1 and fam.gpu_type == "T4" and not fam.builtin
    models, diags = run(make("compute_pool", "p", {"instance_family": "MY_FAM"}), providers={"local": cfg})
    assert not diags and "compute_pool.p" in models


def test_custom_family_without_provider_block_is_unknown() -> None:
    _, diags = run(make("compute_pool", "p", {"instance_family": "MY_FAM"}))
    assert only(diags, "Unknown instance family")


def test_invalid_custom_family_is_reported_at_the_provider() -> None:
    cfg = provider(
        "local", {"instance_family": {"BAD": {"cpus": "many", "memory_gib": 16, "gpuz": 1}}}, line=9
    )
    _, diags = run(make("compute_pool", "p", {"instance_family": "CPU_X64_XS"}), providers={"local": cfg})
    d = only(diags, "Invalid instance family")
    assert 'instance_family "BAD"' in d.detail and "cpus" in d.detail and "gpuz" in d.detail
    assert line_of(d) == 9
