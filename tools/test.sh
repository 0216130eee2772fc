#!/usr/bin/env bash
# Sets everything up and runs every test: the C++ suites (GoogleTest under CTest, built with g++
# and with clang, warnings as errors) and the Python suite (pytest). What CI runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

apt_install libgtest-dev clang g++
# The extension, too, builds with warnings as errors here.
export SKBUILD_CMAKE_DEFINE="ATOMIC_COUNTER_WERROR=ON"
setup_venv test
"$VENV/bin/python" -m pip install -q --disable-pip-version-check cmake ninja
export PATH="$VENV/bin:$PATH"

for cxx in g++ clang++; do
  build="$ROOT/build/cpp-$cxx"
  echo "==> C++ tests with $cxx"
  cmake -S "$ROOT" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOMIC_COUNTER_WERROR=ON >/dev/null
  cmake --build "$build"
  ctest --test-dir "$build" --output-on-failure -j 2
done

echo "==> Python tests"
cd "$ROOT"
"$VENV/bin/python" -m pytest
