"""Registry credentials from the files Docker and the containers tools (podman, skopeo) write:
`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, then `$REGISTRY_AUTH_FILE` or
`$XDG_RUNTIME_DIR/containers/auth.json`. Entries are `auths.<host>.auth` (base64 of
"user:password") or `username`/`password`. Credential helpers (`credsStore`, `credHelpers`)
are not run; a host served only by one gets no credentials from here."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from mlrt_iac.images.types import RegistryAuth

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


def auth_files(env: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if env is None else env
    home = Path(env.get("HOME", str(Path.home())))
    docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    files = [docker_dir / "config.json"]
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(Path(env["REGISTRY_AUTH_FILE"]))
    elif env.get("XDG_RUNTIME_DIR"):
        files.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    return files


def _key_host(key: str) -> str:
    """ "https://host:port/v1/" and "host:port" both name host:port."""
    return urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]


def _entry_auth(entry: object) -> RegistryAuth | None:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return RegistryAuth(user, password) if sep else None
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return RegistryAuth(entry["username"], entry["password"])
    return None


def credentials_for(host: str, env: Mapping[str, str] | None = None) -> RegistryAuth | None:
    """The first credentials any auth file holds for `host` ("127.0.0.1:5000"), else None.
    Unreadable or malformed files are skipped, as docker does for a missing one."""
    wanted = {host} | (set(_HUB_KEYS) if host in _HUB_KEYS else set())
    for path in auth_files(env):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        auths = doc.get("auths") if isinstance(doc, dict) else None
        if not isinstance(auths, dict):
            continue
        for key, entry in auths.items():
            if key in wanted or _key_host(key) in wanted:
                found = _entry_auth(entry)
                if found is not None:
                    return found
    return None
