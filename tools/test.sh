#!/usr/bin/env bash
# Sets everything up and runs every test (what CI runs):
#   0. clang-format and ruff (check and format): any change they would make fails the run;
#      import-linter: the package's layers (pyproject.toml) hold;
#   1. the C++ suites (GoogleTest under CTest) built with g++ and with clang, warnings as errors;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer, and under ThreadSanitizer;
#   3. clang-tidy on every public header, every template instantiated, and on the bindings
#      (.clang-tidy);
#   4. libFuzzer on the counter arithmetic, the TimeCounter rule, the shared-region header,
#      the layouts with the snowflake generator and the string forms of ids,
#      ATOMIC_COUNTER_FUZZ_SECONDS each (default 60);
#   5. the Python suite (pytest), including the million-call leak check
#      (ATOMIC_COUNTER_LEAK_CALLS, default 1000000); then the deterministic simulator of the
#      lease and segment protocols (ATOMIC_COUNTER_SIM_STEPS simulated steps, default 3000000);
#   6. the Python suite again against an ASan + UBSan build of the extension (all but the
#      suites that test the Python protocols against real servers);
#   7. the other platforms this machine can reach: the C++ suite cross-built for Windows
#      (mingw-w64) and run under wine64, cross-built for aarch64 Linux and run under
#      qemu-user; the headers and the extension's sources compiled for macOS (arm64, x86_64)
#      by zig; the manylinux_2_17 wheel from tools/wheels.sh, installed in a fresh virtual
#      environment and tested there (the same suites as in 6).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

apt_install libgtest-dev clang clang-tidy g++ redis-server faketime postgresql \
  mingw-w64 wine64 qemu-user-static g++-aarch64-linux-gnu googletest e2fsprogs util-linux jq
# The extension, too, builds with warnings as errors here (and leaves its compile commands for
# clang-tidy).
export SKBUILD_CMAKE_DEFINE="ATOMIC_COUNTER_WERROR=ON;CMAKE_EXPORT_COMPILE_COMMANDS=ON"
setup_venv test
"$VENV/bin/python" -m pip install -q --disable-pip-version-check cmake ninja
export PATH="$VENV/bin:$PATH"

# The tracked sources of the given patterns (every file below ROOT outside a git checkout).
sources() {
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$ROOT" ls-files -- "$@"
  else
    local pattern
    for pattern in "$@"; do
      find "$ROOT" -path "$ROOT/build" -prune -o -path "$ROOT/.venv" -prune -o \
        -name "$pattern" -type f -print
    done
  fi
}

echo "==> Format and lint: clang-format and ruff (pinned in pyproject.toml) change nothing"
(
  cd "$ROOT"
  sources '*.c' '*.h' '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
  ruff check .
  ruff format --check .
  # From src/, so that it reads the sources (the installed copy is the same code).
  (cd src && lint-imports "$ROOT/pyproject.toml")
)

# cpp_suite NAME COMPILER [CMAKE ARGS...]: configures, builds and runs the C++ tests.
cpp_suite() {
  local name="$1" cxx="$2"
  shift 2
  local build="$ROOT/build/$name"
  echo "==> C++ tests: $name ($cxx)"
  cmake -S "$ROOT" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOMIC_COUNTER_WERROR=ON \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" >/dev/null
  cmake --build "$build"
  ctest --test-dir "$build" --output-on-failure -j 2
}

cpp_suite cpp-gcc g++
cpp_suite cpp-clang clang++
# Sanitized runs draw fewer values per stress thread to stay within CI's time.
ATOMIC_COUNTER_STRESS_DRAWS=200000 cpp_suite asan-ubsan clang++ \
  -DATOMIC_COUNTER_SANITIZE=address,undefined
ATOMIC_COUNTER_STRESS_DRAWS=100000 TSAN_OPTIONS="halt_on_error=1" cpp_suite tsan clang++ \
  -DATOMIC_COUNTER_SANITIZE=thread

echo "==> clang-tidy on the public headers and the bindings"
clang-tidy -p "$ROOT/build/cpp-clang" --quiet "$ROOT/tests/cpp/include_test.cpp" \
  "$ROOT"/build/cpp-clang/tests/cpp/include_*.cpp
# The extension's compile commands, from its build by setup_venv (build/<wheel tag>).
extension_build="$(dirname "$(ls "$ROOT"/build/cp*-abi3-*/compile_commands.json | head -n 1)")"
# g++ needs no -std flag for C++17 (its default), so CMake gave none; clang-tidy does.
clang-tidy -p "$extension_build" --quiet --extra-arg=-std=c++17 "$ROOT"/bindings/*.cpp

echo "==> libFuzzer, ${ATOMIC_COUNTER_FUZZ_SECONDS:=60} s per target"
fuzz_build="$ROOT/build/fuzz"
cmake -S "$ROOT" -B "$fuzz_build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DATOMIC_COUNTER_FUZZ=ON >/dev/null
cmake --build "$fuzz_build"
fuzz() {
  local target="$1" corpus="$fuzz_build/corpus/$1"
  mkdir -p "$corpus"
  "$fuzz_build/tests/fuzz/$target" -max_total_time="$ATOMIC_COUNTER_FUZZ_SECONDS" \
    -print_final_stats=1 "$corpus" 2>"$fuzz_build/$target.log" ||
    { tail -n 60 "$fuzz_build/$target.log"; return 1; }
  echo "$target: $(grep -E 'number_of_executed_units' "$fuzz_build/$target.log" | awk '{print $2}') runs, no failure"
}
# A libFuzzer run uses one core: two at a time, each for its full time.
fuzzing=0
for target in fuzz_counter_rules fuzz_time_rules fuzz_shared_region fuzz_layout fuzz_format; do
  if ((fuzzing == 2)); then
    wait -n || exit 1
    fuzzing=1
  fi
  fuzz "$target" &
  fuzzing=$((fuzzing + 1))
done
for ((; fuzzing > 0; fuzzing--)); do wait -n || exit 1; done

echo "==> Python tests"
cd "$ROOT"
"$VENV/bin/python" -m pytest

# Leases and segments (the real protocol code) against the memory store under every fault, on
# simulated time, from seed 1; a failure prints its seed, the steps that led to it and how to
# replay it. docs/simulation.md has the figures and the hour-long run.
echo "==> The simulator: ${ATOMIC_COUNTER_SIM_STEPS:=3000000} steps of leases and segments"
"$VENV/bin/python" "$ROOT/tests/python/support/simulator.py" --steps "$ATOMIC_COUNTER_SIM_STEPS"

# The suites that exercise the Python protocols against real servers (leases, the nemesis, the
# simulator's differential test, FleetCounter and the integrations) make the same extension calls
# as the rest, and take most of the suite's time: they run once, above, not again under ASan or
# in the wheel's environment.
protocol_suites=()
for suite in test_lease_redis test_lease_postgres test_lease_nemesis test_fleet test_simulation \
  test_integrations test_recipes test_segment_postgres; do
  protocol_suites+=(--ignore="$ROOT/tests/python/$suite.py")
done

echo "==> Python tests against an ASan + UBSan build of the extension"
asan_venv="$ROOT/build/asan-venv"
[[ -x "$asan_venv/bin/python" ]] || python3 -m venv "$asan_venv"
"$asan_venv/bin/python" -m pip install -q --disable-pip-version-check pytest hypothesis numpy redis
SKBUILD_CMAKE_DEFINE="CMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined;ATOMIC_COUNTER_WERROR=ON;ATOMIC_COUNTER_STATIC_RUNTIME=OFF" \
  "$asan_venv/bin/python" -m pip install -q --disable-pip-version-check \
  --config-settings=build-dir="build/asan/{wheel_tag}" "$ROOT"
# The ASan runtime must come first, and libstdc++ with it so that its throw is intercepted.
# CPython itself is not built for leak checking: LeakSanitizer stays off (test_leaks covers
# leaks); the leak test, the test that installs the original from PyPI, the simulator's
# searches and the protocol suites (pure Python, run once above) are left out here.
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
  "$asan_venv/bin/python" -m pytest -m "not leak and not simulation" -k "not originals" \
  -p no:cacheprovider "${protocol_suites[@]}"

echo "==> Windows: the C++ suite built by mingw-w64, run under wine64"
win_build="$ROOT/build/mingw"
cmake -S "$ROOT" -B "$win_build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchains/mingw-w64-x86_64.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOMIC_COUNTER_WERROR=ON >/dev/null
cmake --build "$win_build"
# The prefix lives outside the tree: it links drive Z: to /, which no tree walk should follow.
export WINEPREFIX="${XDG_CACHE_HOME:-$HOME/.cache}/atomic-counter/wine" WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
wine64="$(command -v wine64 || true)"
[[ -n "$wine64" ]] || wine64=/usr/lib/wine/wine64
(
  cd "$win_build/tests/cpp"
  for exe in *_test.exe; do
    ATOMIC_COUNTER_STRESS_DRAWS=100000 "$wine64" "./$exe" --gtest_brief=1 >"$exe.log" 2>&1 ||
      { tail -n 40 "$exe.log"; echo "$exe failed under wine"; exit 1; }
    echo "$exe: $(grep -E '^\[  PASSED  \]' "$exe.log")"
  done
)

echo "==> aarch64 Linux: the C++ suite cross-built, run under qemu-user"
arm_build="$ROOT/build/aarch64"
cmake -S "$ROOT" -B "$arm_build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOMIC_COUNTER_WERROR=ON >/dev/null
cmake --build "$arm_build"
# No binfmt here: a test binary cannot start another aarch64 program (the fork tests run).
ATOMIC_COUNTER_STRESS_DRAWS=100000 ATOMIC_COUNTER_TEST_NO_SPAWN=1 \
  ctest --test-dir "$arm_build" --output-on-failure -j 2

echo "==> macOS (arm64, x86_64): every header and the extension's sources compiled by zig"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check ziglang
py_include="$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")"
mac_build="$ROOT/build/macos-compile"
mkdir -p "$mac_build"
for target in aarch64-macos x86_64-macos; do
  for header in "$ROOT"/include/atomic_counter/*.hpp; do
    echo "#include <atomic_counter/$(basename "$header")>" >"$mac_build/include.cpp"
    "$VENV/bin/python" -m ziglang c++ -target "$target" -std=c++17 -Wall -Wextra -Werror \
      -I"$ROOT/include" -c "$mac_build/include.cpp" -o "$mac_build/include.o"
  done
  for source in "$ROOT"/bindings/*.cpp "$ROOT"/tests/cpp/region_child.cpp; do
    "$VENV/bin/python" -m ziglang c++ -target "$target" -std=c++17 -Wall -Wextra -Werror \
      -I"$ROOT/include" -I"$py_include" -DPy_LIMITED_API=0x030A0000 -c "$source" \
      -o "$mac_build/source.o"
  done
  echo "$target: every header and source compiles"
done

echo "==> the manylinux_2_17 wheel, installed in a fresh virtual environment and tested there"
bash "$ROOT/tools/wheels.sh" | tail -n 4
wheel_venv="$ROOT/build/wheel-venv"
rm -rf "$wheel_venv"
python3 -m venv "$wheel_venv"
"$wheel_venv/bin/python" -m pip install -q --disable-pip-version-check \
  "$ROOT"/dist/atomic_counter-*manylinux_2_17_x86_64.whl pytest hypothesis numpy redis mypy \
  types-redis "cibuildwheel>=3.1,<4"
# From a directory outside the tree: the tests must import the installed wheel, nothing else.
(cd "$wheel_venv" && "$wheel_venv/bin/python" -c \
  "import atomic_counter, sys; assert 'site-packages' in atomic_counter.__file__; print('testing', atomic_counter.__file__)")
"$wheel_venv/bin/python" -m pytest -q -p no:cacheprovider -m "not leak and not simulation" \
  -k "not originals and not nemesis" "${protocol_suites[@]}" "$ROOT/tests/python"
