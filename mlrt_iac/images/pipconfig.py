"""pip's own configuration, read the way pip reads it, to learn where a build fetches packages
from: the index URL and the host:port entries an EAI must allow.

pip's configuration API (`pip._internal.configuration`) costs most of a second to import and is
internal, so the files and variables are read here with configparser, in pip's precedence:
files global < user < site < $PIP_CONFIG_FILE, then PIP_* variables; within them the `[install]`
section overrides `[global]`.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_INDEX = "https://pypi.org/simple"
# The seed's pypi network rule: what the default index and its file host need.
PYPI_HOSTS = ["pypi.org:443", "pypi.python.org:443", "pythonhosted.org:443", "files.pythonhosted.org:443"]
_KEYS = ("index-url", "extra-index-url", "find-links", "no-index", "constraint")
_TRUE = {"1", "true", "yes", "on", "y"}


def _config_files(env: Mapping[str, str]) -> list[Path]:
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    home = Path(env.get("HOME", str(Path.home())))
    xdg_home = Path(env.get("XDG_CONFIG_HOME", str(home / ".config")))
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    files.append(Path(env.get("VIRTUAL_ENV", sys.prefix)) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        if env["PIP_CONFIG_FILE"] == os.devnull:
            return []  # pip's documented switch: no configuration files at all
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def pip_settings(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The effective values of the options that decide where packages come from."""
    env = os.environ if env is None else env
    merged: dict[str, str] = {}
    if env.get("PIP_ISOLATED_MODE", "").lower() not in _TRUE:
        for path in _config_files(env):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (OSError, configparser.Error, UnicodeDecodeError):
                continue
            for section in ("global", "install"):
                if parser.has_section(section):
                    for key, value in parser.items(section):
                        merged[f"{section}.{key}"] = value
    out: dict[str, str] = {}
    for key in _KEYS:
        for source in (f"global.{key}", f"install.{key}"):
            if source in merged:
                out[key] = merged[source]
        var = "PIP_" + key.upper().replace("-", "_")
        if var in env:
            out[key] = env[var]
    return out


def _host_port(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # file: URLs and local paths need no egress
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def index_hosts(env: Mapping[str, str] | None = None) -> tuple[str | None, list[str]]:
    """(the index URL, the host:port entries a build must reach). The default index needs the
    four pypi hosts; PIP_NO_INDEX leaves only find-links URLs; file: URLs need nothing."""
    settings = pip_settings(env)
    no_index = settings.get("no-index", "").strip().lower() in _TRUE
    hosts: list[str] = []
    index_url: str | None = None
    if not no_index:
        index_url = settings.get("index-url", "").strip() or DEFAULT_INDEX
        urls = [index_url, *settings.get("extra-index-url", "").split()]
        for url in urls:
            if url.rstrip("/") == DEFAULT_INDEX:
                hosts += PYPI_HOSTS
            elif (hp := _host_port(url)) is not None:
                hosts.append(hp)
    for url in settings.get("find-links", "").split():
        if (hp := _host_port(url)) is not None:
            hosts.append(hp)
    return index_url, list(dict.fromkeys(hosts))
