#!/usr/bin/env bash
# Sets up a fresh machine for atomic-counter: Debian packages the C++ tests need (installed with
# apt-get only when missing) and a virtual environment in .venv holding the package (built from
# this checkout) and its test tools. Sourced by tools/demo.sh and tools/test.sh; safe to rerun.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

# apt_install PACKAGE...: installs the packages that are not installed yet.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  echo "==> apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# setup_venv [EXTRAS]: creates .venv if needed and installs the package with the given extras.
setup_venv() {
  local extras="${1:-}" target="$ROOT"
  [[ -n "$extras" ]] && target="$ROOT[$extras]"
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
  fi
  echo "==> pip install ${target#"$ROOT"} from $ROOT (builds the C++ extension)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$target"
}
