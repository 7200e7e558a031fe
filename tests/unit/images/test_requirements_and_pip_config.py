"""Requirement validation (plan time, no I/O) and the index hosts read from pip's own
configuration (variables and a pip.conf named by PIP_CONFIG_FILE)."""

from __future__ import annotations

import os
from pathlib import Path

from mlrt_iac.images import index_hosts, validate_requirements
from mlrt_iac.images.pipconfig import PYPI_HOSTS
from mlrt_iac.images.requirements import normalised_set


def test_validate_requirements_reports_index_and_message() -> None:
    problems = validate_requirements(
        ["numpy>=1.26", "xgboost==", "pandas[sql] >=2,<3", "--index-url http://x", " "]
    )
    assert [i for i, _ in problems] == [1, 3, 4]
    assert "xgboost==" in problems[0][1]
    assert "pip options" in problems[1][1]
    assert validate_requirements(["scikit-learn>=1.4; python_version >= '3.10'", "torch==2.13.0+cpu"]) == []


def test_normalised_requirements_ignore_spelling_and_order() -> None:
    assert normalised_set(["Scikit_Learn >= 1.4", "numpy"]) == normalised_set(["numpy", "scikit-learn>=1.4"])
    assert normalised_set(["numpy"]) != normalised_set(["numpy<2"])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no pip configuration but what the test gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_DIRS=str(tmp_path / "xdg"), VIRTUAL_ENV=str(tmp_path / "venv"))
    env.update(extra)
    return env


def test_default_index_needs_exactly_the_pypi_hosts(tmp_path: Path) -> None:
    assert index_hosts(_env(tmp_path)) == ("https://pypi.org/simple", PYPI_HOSTS)


def test_index_url_from_environment(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        PIP_INDEX_URL="https://mirror.example.com/simple",
        PIP_EXTRA_INDEX_URL="http://extra.example.com:8080/simple file:///opt/local",
    )
    assert index_hosts(env) == (
        "https://mirror.example.com/simple",
        ["mirror.example.com:443", "extra.example.com:8080"],
    )


def test_index_url_from_pip_conf_and_install_section_wins(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://global.example.com/simple\n"
        "[install]\nindex-url = https://nexus.example.com:8443/repository/pypi/simple\n"
    )
    assert index_hosts(_env(tmp_path, PIP_CONFIG_FILE=str(conf))) == (
        "https://nexus.example.com:8443/repository/pypi/simple",
        ["nexus.example.com:8443"],
    )
    # the variable overrides the file, as in pip
    env = _env(tmp_path, PIP_CONFIG_FILE=str(conf), PIP_INDEX_URL="https://pypi.org/simple/")
    assert index_hosts(env)[1] == PYPI_HOSTS


def test_no_index_and_file_urls_need_no_hosts(tmp_path: Path) -> None:
    assert index_hosts(_env(tmp_path, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path))) == (None, [])
    assert index_hosts(_env(tmp_path, PIP_INDEX_URL="file:///srv/wheels")) == ("file:///srv/wheels", [])
    # find-links over http still needs its host, index or not
    env = _env(tmp_path, PIP_NO_INDEX="true", PIP_FIND_LINKS="https://wheels.example.com/links/")
    assert index_hosts(env) == (None, ["wheels.example.com:443"])


def test_pip_config_file_devnull_disables_files(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg" / "pip"
    xdg.mkdir(parents=True)
    (xdg / "pip.conf").write_text("[global]\nindex-url = https://site.example.com/simple\n")
    assert index_hosts(_env(tmp_path))[0] == "https://site.example.com/simple"
    assert index_hosts(_env(tmp_path, PIP_CONFIG_FILE=os.devnull))[0] == "https://pypi.org/simple"
