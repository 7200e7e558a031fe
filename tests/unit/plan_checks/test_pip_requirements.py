"""What a workload installs, checked at plan time (issue 10, items 6 and "Bad input"): a
requirement pip cannot parse is an error on its element; a service image build reaches the
package index only through a build_external_access_integration that allows all of the index's
hosts (Snowflake's rule), and the error names the integration and what it lacks; a local
training installs nothing, so its requirements must already be satisfied in this Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import XGB_TRAINING, run, write_parquet

PYPI_HOSTS = '["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"]'


def service_project(tmp_path: Path, hosts: str, service_extra: str = "") -> Path:
    model = tmp_path / "model"
    model.mkdir(parents=True)
    (model / "metadata.json").write_text('{"framework": "xgboost"}')
    (tmp_path / "main.hcl").write_text(
        f"""compute_pool "cpu" {{
  instance_family = "CPU_X64_XS"
}}

image_repository "models" {{}}

network_rule "index" {{
  mode       = "EGRESS"
  type       = "HOST_PORT"
  value_list = {hosts}
}}

external_access_integration "build" {{
  allowed_network_rules = [network_rule.index]
}}

service "api" {{
  compute_pool                      = compute_pool.cpu
  model                             = "model"
  image_repository                  = image_repository.models
  build_external_access_integration = external_access_integration.build
{service_extra}}}
"""
    )
    return tmp_path


@pytest.fixture(autouse=True)
def default_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pip's configuration as on a fresh machine: the default index (PyPI)."""
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "pip.conf"
    empty.write_text("")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(empty))


def test_a_build_integration_without_all_index_hosts_is_a_plan_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = service_project(tmp_path / "p", '["pypi.org:443", "files.pythonhosted.org:443"]')
    code, text = run(capsys, project, "plan")
    assert code == 1, text
    assert 'Error: External access integration "build" does not allow the package index' in text
    assert "lacks pypi.python.org:443, pythonhosted.org:443" in text
    assert "on main.hcl line 21:" in text  # the build_external_access_integration line


def test_the_seed_pypi_rule_is_enough_and_the_image_is_known_after_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = service_project(tmp_path / "p", PYPI_HOSTS)
    code, text = run(capsys, project, "plan")
    assert code == 0, text
    assert "image" in text and "(known after apply)" in text


def test_any_host_on_443_allows_the_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = service_project(tmp_path / "p", '["0.0.0.0:443"]')
    code, text = run(capsys, project, "plan")
    assert code == 0, text


def test_a_local_index_needs_no_egress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    project = service_project(tmp_path / "p", '["example.com:443"]')
    code, text = run(capsys, project, "plan")
    assert code == 0, text


def test_an_unparsable_requirement_is_an_error_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = service_project(
        tmp_path / "p", PYPI_HOSTS, '  pip_requirements = ["six==1.16.0", "not a req!!"]\n'
    )
    code, text = run(capsys, project, "plan")
    assert code == 1, text
    assert "Error: Invalid pip requirement 'not a req!!'" in text
    assert "on main.hcl line 22:" in text
    assert "internal error" not in text and "Traceback" not in text


def test_a_local_training_needs_its_requirements_installed_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_parquet(tmp_path / "data" / "train.parquet", f0=[1.0, 2.0], label=[0, 1])
    config = XGB_TRAINING.replace(
        '  framework    = "xgboost"\n',
        '  framework    = "xgboost"\n  pip_requirements = ["pyarrow>=1", "mlrt-no-such-package-xyz>=1.0"]\n',
    )
    (tmp_path / "main.hcl").write_text(config)
    code, text = run(capsys, tmp_path, "plan")
    assert code == 1, text
    assert "Error: Python package mlrt-no-such-package-xyz is not installed" in text
    assert "pip install 'mlrt-no-such-package-xyz>=1.0'" in text
    assert "Python package pyarrow" not in text  # installed here: no error for it
