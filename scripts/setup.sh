#!/usr/bin/env bash
# The whole set-up, one command: the system tools the tests start (a real OCI registry and the
# tools that inspect what mlrt pushes), then mlrt itself with its dev extra, into the current
# Python (activate a virtual environment first).
#
#   docker-registry  the CNCF Distribution registry, started by the tests on 127.0.0.1
#   skopeo, umoci    pull back and unpack the images mlrt builds
#   apache2-utils    htpasswd, for the registry's basic auth
#
# With apt-get (Debian, Ubuntu) the missing tools are installed, as root or through `sudo -n`;
# elsewhere, or without either, it says what to install and goes on with pip (the image tests
# then fail, naming the missing tool).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A package_of=([docker-registry]=docker-registry [skopeo]=skopeo [umoci]=umoci [htpasswd]=apache2-utils)
missing=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done

if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) != 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  fi
  if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) == 0 ]] || ((${#sudo[@]})); }; then
    echo "setup: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/mlrt-setup-apt.log 2>&1; then
      # A fresh machine may have no package lists yet.
      "${sudo[@]}" apt-get update -q >>/tmp/mlrt-setup-apt.log 2>&1
      "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/mlrt-setup-apt.log 2>&1 ||
        { tail -20 /tmp/mlrt-setup-apt.log >&2; exit 1; }
    fi
  else
    echo "setup: note: install ${missing[*]} with your package manager; the image tests need them" >&2
  fi
fi

pip install -e '.[dev]'
