"""Variables, modules, count/for_each, meta-arguments, unknown/sensitive, targets, parse cache."""

from __future__ import annotations

from pathlib import Path

from mlrt_iac.config import gather_variable_inputs, load_config
from mlrt_iac.config.valueops import ResourceRef
from mlrt_iac.values import UNKNOWN, Sensitive

from .helpers import run, summaries, write

VARS = """variable "s" {
  type = string
  default = "def"
}
variable "n" {
  type = number
  default = 1
}
variable "l" {
  type = list(string)
  default = []
}
variable "o" {
  type = object({ a = string, b = optional(number, 7) })
  default = { a = "x" }
}
"""


def test_variable_precedence(tmp_path: Path) -> None:
    write(tmp_path, {"main.hcl": VARS, "vf/a.json": '{"s": "file1", "n": 5}', "vf/b.hcl": 's = "file2"\n'})
    cfg, _ = load_config(tmp_path, cache_dir=tmp_path / ".c")
    env = {"MLRT_VAR_s": "env", "MLRT_VAR_n": "3", "MLRT_VAR_l": '["e"]'}
    vals, d = gather_variable_inputs(
        cfg, ["s=cli", 'l=["x", "y"]'], [tmp_path / "vf/a.json", tmp_path / "vf/b.hcl"], env
    )
    assert not d.has_errors, d
    assert vals == {"s": "cli", "n": 5, "l": ["x", "y"]}
    out, d2 = run(tmp_path, {}, vals)
    assert out.variables["n"] == 5 and out.variables["o"] == {"a": "x", "b": 7}
    vals, _ = gather_variable_inputs(cfg, [], [], env)
    out, _ = run(tmp_path, {}, vals)
    assert out.variables == {"s": "env", "n": 3, "l": ["e"], "o": {"a": "x", "b": 7}}


def test_variable_errors(tmp_path: Path) -> None:
    write(tmp_path, {"main.hcl": VARS})
    cfg, _ = load_config(tmp_path, cache_dir=tmp_path / ".c")
    _, d = gather_variable_inputs(cfg, ["nope=1", "bad"], [], {})
    assert summaries(d) == ["Value for undeclared variable", "Invalid -var option"]
    _, d = run(tmp_path, {}, {"n": "abc"})
    assert (
        summaries(d) == ["Invalid value for input variable"]
        and "var.n" in d[0].detail
        and "number" in d[0].detail
    )


def test_sensitive_propagates(tmp_path: Path) -> None:
    text = (
        'variable "pw" {\n  default = "hunter2"\n  sensitive = true\n}\n'
        'locals {\n  url = "db://${var.pw}@h"\n  n = length(var.pw)\n  l = [for c in [1] : var.pw]\n}\n'
        'output "u" {\n  value = local.url\n  sensitive = true\n}\n'
        'compute_pool "p" {\n  comment = upper(var.pw)\n}\n'
    )
    out, d = run(tmp_path, {"main.hcl": text})
    assert not d.has_errors, d
    assert isinstance(out.variables["pw"], Sensitive)
    assert isinstance(out.outputs["u"].value, Sensitive) and out.outputs["u"].value.value == "db://hunter2@h"
    assert isinstance(out.instances[0].attributes["comment"], Sensitive)


def test_unknown_propagates(tmp_path: Path) -> None:
    text = (
        'compute_pool "p" {}\n'
        'service "s" {\n  compute_pool = compute_pool.p\n'
        '  comment = "at ${compute_pool.p.address}"\n'
        '  a = length(compute_pool.p.nodes)\n  b = compute_pool.p.address == "x" ? 1 : 2\n'
        "  c = upper(compute_pool.p.state)\n  d = [for n in compute_pool.p.nodes : n.name]\n"
        "  e = compute_pool.p.nodes[*].name\n  f = compute_pool.p.max_nodes + 1\n"
        "  g = { k = compute_pool.p.state }\n}\n"
    )
    out, d = run(tmp_path, {"main.hcl": text})
    assert not d.has_errors, d
    a = out.instances[1].attributes
    assert all(a[k] is UNKNOWN for k in "abcdef"), a
    assert a["g"] == {"k": UNKNOWN}
    assert isinstance(a["compute_pool"], ResourceRef) and a["compute_pool"]["name"] == "p"
    assert a["compute_pool"].address == "compute_pool.p"


def test_count_for_each_addresses_and_deps(tmp_path: Path) -> None:
    text = (
        'locals {\n  teams = { a = "CPU_X64_S", b = "GPU_NV_S" }\n}\n'
        'compute_pool "p" {\n  for_each = local.teams\n  instance_family = each.value\n'
        '  name = "pool-${each.key}"\n}\n'
        'training "t" {\n  count = 2\n  compute_pool = compute_pool.p["a"]\n  comment = "run ${count.index}"\n'
        "  depends_on = [compute_pool.p]\n}\n"
        'service "s" {\n  model = training.t[1].model_uri\n  names = [for k, p in compute_pool.p : p.name]\n}\n'
    )
    out, d = run(tmp_path, {"main.hcl": text})
    assert not d.has_errors, d
    addrs = [i.address for i in out.instances]
    assert addrs == [
        'compute_pool.p["a"]',
        'compute_pool.p["b"]',
        "training.t[0]",
        "training.t[1]",
        "service.s",
    ]
    t1 = out.instances[3]
    assert t1.index_key == 1 and t1.attributes["comment"] == "run 1" and t1.block_address == "training.t"
    assert t1.depends_on == {'compute_pool.p["a"]', 'compute_pool.p["b"]'}
    assert t1.dependency_ranges['compute_pool.p["a"]'].start.line == 11
    s = out.instances[4]
    assert "training.t[1]" in s.depends_on and 'compute_pool.p["b"]' in s.depends_on
    assert s.attributes["names"] == ["pool-a", "pool-b"]


def test_nested_blocks_and_meta(tmp_path: Path) -> None:
    text = (
        'mlrt {\n  default_provider = "ray"\n  backend "local" {\n    path = "s.json"\n  }\n}\n'
        'provider "ray" {\n  alias = "big"\n  address = "auto"\n}\n'
        'training "t" {\n  provider = ray.big\n  framework = "xgboost"\n'
        '  dataset "train" {\n    source = "a.parquet"\n  }\n  dataset "eval" {\n    source = "b.parquet"\n  }\n'
        "  scaling {\n    num_nodes = 2\n  }\n"
        "  lifecycle {\n    prevent_destroy = true\n    ignore_changes = [comment, scaling.num_nodes]\n"
        "    replace_triggered_by = [compute_pool.p.instance_family]\n  }\n"
        '  timeouts {\n    create = "1h30m"\n    delete = "45s"\n  }\n}\n'
        'compute_pool "p" {\n  rule { a = 1 }\n  rule { a = 2 }\n}\n'
    )
    out, d = run(tmp_path, {"main.hcl": text})
    assert not d.has_errors, d
    t = next(i for i in out.instances if i.type == "training")
    assert t.provider == "ray.big" and t.provider_explicit
    assert t.attributes["dataset"] == {"train": {"source": "a.parquet"}, "eval": {"source": "b.parquet"}}
    assert t.attributes["scaling"] == {"num_nodes": 2}
    assert "provider" not in t.attributes and "lifecycle" not in t.attributes
    assert t.attribute_ranges["dataset.eval.source"].start.line == 18
    assert t.lifecycle.prevent_destroy and t.lifecycle.ignore_changes == ("comment", "scaling.num_nodes")
    assert t.lifecycle.replace_triggered_by == ("compute_pool.p.instance_family",)
    assert t.timeouts == {"create": 5400.0, "delete": 45.0}
    p = next(i for i in out.instances if i.type == "compute_pool")
    assert p.provider == "ray" and not p.provider_explicit
    assert p.attributes["rule"] == [{"a": 1}, {"a": 2}]
    assert out.settings.backend is not None and out.settings.backend.attributes == {"path": "s.json"}
    assert set(out.providers) == {"ray.big"}


MODULE = {
    "main.hcl": (
        'variable "teams" {\n  default = ["a", "b"]\n}\n'
        'compute_pool "shared" {\n  instance_family = "CPU_X64_S"\n}\n'
        'module "team" {\n  source = "./modules/team"\n  for_each = toset(var.teams)\n'
        "  team = each.key\n  pool = compute_pool.shared.name\n}\n"
        'service "front" {\n  model = module.team["a"].model\n}\n'
        'output "models" {\n  value = { for k, m in module.team : k => m.model }\n}\n'
    ),
    "modules/team/main.hcl": (
        'variable "team" {\n  type = string\n}\nvariable "pool" {}\n'
        'training "t" {\n  comment = "${var.team} on ${var.pool}"\n}\n'
        'module "inner" {\n  source = "../inner"\n  x = var.team\n}\n'
        'output "model" {\n  value = training.t.model_uri\n}\n'
        'output "inner" {\n  value = module.inner.y\n}\n'
    ),
    "modules/inner/main.hcl": 'variable "x" {}\nimage_repository "r" {\n  name = "repo-${var.x}"\n}\n'
    'output "y" {\n  value = image_repository.r.name\n}\n',
}


def test_modules_nested_with_for_each(tmp_path: Path) -> None:
    out, d = run(tmp_path, MODULE)
    assert not d.has_errors, d
    by = {i.address: i for i in out.instances}
    assert set(by) == {
        "compute_pool.shared",
        'module.team["a"].training.t',
        'module.team["b"].training.t',
        'module.team["a"].module.inner.image_repository.r',
        'module.team["b"].module.inner.image_repository.r',
        "service.front",
    }
    t = by['module.team["b"].training.t']
    assert t.attributes["comment"] == "b on shared" and t.module_address == 'module.team["b"]'
    assert t.depends_on == {"compute_pool.shared"} and t.range.filename == "modules/team/main.hcl"
    assert by['module.team["a"].module.inner.image_repository.r'].attributes["name"] == "repo-a"
    assert by["service.front"].depends_on == {'module.team["a"].training.t', 'module.team["b"].training.t'}
    assert out.outputs["models"].value == {"a": UNKNOWN, "b": UNKNOWN}


def test_module_errors(tmp_path: Path) -> None:
    files = dict(MODULE)
    files["main.hcl"] = (
        'module "team" {\n  source = "./modules/team"\n  teem = 1\n}\n'
        'output "x" {\n  value = module.team.nope\n}\n'
    )
    _, d = run(tmp_path, files)
    s = summaries(d)
    assert "Unsupported argument" in s and "Missing required argument" in s
    assert any('Did you mean "team"' in x.detail for x in d)


def test_targets(tmp_path: Path) -> None:
    text = (
        'compute_pool "a" {}\ncompute_pool "b" {}\ntraining "t" {\n  compute_pool = compute_pool.a\n}\n'
        'service "s" {\n  model = training.t.model_uri\n}\n'
    )
    out, d = run(tmp_path, {"main.hcl": text}, targets=["training.t"])
    assert not d.has_errors, d
    assert [i.address for i in out.instances] == ["compute_pool.a", "training.t"]
    out, d = run(tmp_path, {}, targets=["training.nope"])
    assert summaries(d) == ["Invalid target"]


def test_resolver_values(tmp_path: Path) -> None:
    text = 'training "t" {\n  framework = "xgboost"\n}\nservice "s" {\n  model = training.t.model_uri\n}\n'
    seen = []

    def resolver(inst):  # type: ignore[no-untyped-def]
        seen.append(inst.address)
        return {**inst.attributes, "model_uri": f"file:///{inst.name}"}

    out, d = run(tmp_path, {"main.hcl": text}, resolver=resolver)
    assert out.instances[1].attributes["model"] == "file:///t" and seen == ["training.t", "service.s"]


def test_parse_cache(tmp_path: Path) -> None:
    proj = tmp_path / "p"
    write(proj, {"main.hcl": 'compute_pool "p" {\n  max_nodes = 2\n}\n'})
    cache = tmp_path / "cache"
    cfg, _ = load_config(proj, cache_dir=cache)
    assert (cfg.cache_hits, cfg.cache_misses) == (0, 1)
    cfg, _ = load_config(proj, cache_dir=cache)
    assert (cfg.cache_hits, cfg.cache_misses) == (1, 0)
    # never stale: changed content is a different key
    write(proj, {"main.hcl": 'compute_pool "p" {\n  max_nodes = 3\n}\n'})
    cfg, _ = load_config(proj, cache_dir=cache)
    assert cfg.cache_misses == 1
    out, _ = run(proj, {})
    assert out.instances[0].attributes["max_nodes"] == 3
    # corrupt entries are misses, then rewritten
    for f in cache.rglob("*.ast"):
        f.write_bytes(b"garbage")
    cfg, d = load_config(proj, cache_dir=cache)
    assert not d.has_errors and cfg.cache_misses == 1
    cfg, _ = load_config(proj, cache_dir=cache)
    assert cfg.cache_hits == 1
    # deleted cache is fine
    import shutil

    shutil.rmtree(cache)
    cfg, d = load_config(proj, cache_dir=cache)
    assert not d.has_errors and cfg.cache_misses == 1
    # default location is under the project
    load_config(proj)
    assert list((proj / ".mlrt" / "cache" / "parse").rglob("*.ast"))


def test_sources_and_filenames(tmp_path: Path) -> None:
    cfg, d = load_config(write(tmp_path, MODULE), cache_dir=tmp_path / ".c")
    assert not d.has_errors
    assert set(cfg.sources) == {"main.hcl", "modules/team/main.hcl", "modules/inner/main.hcl"}
