#!/usr/bin/env bash
# Sets everything up and runs every test (what CI runs):
#   1. the C++ suites (GoogleTest under CTest) built with g++ and with clang, warnings as errors;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer, and under ThreadSanitizer;
#   3. clang-tidy on every public header, every template instantiated (.clang-tidy);
#   4. libFuzzer on the counter arithmetic, the TimeCounter rule, the shared-region header and
#      the layouts with the snowflake generator,
#      ATOMIC_COUNTER_FUZZ_SECONDS each (default 60);
#   5. the Python suite (pytest), including the million-call leak check
#      (ATOMIC_COUNTER_LEAK_CALLS, default 1000000);
#   6. the Python suite again against an ASan + UBSan build of the extension.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

apt_install libgtest-dev clang clang-tidy g++ redis-server faketime
# The extension, too, builds with warnings as errors here.
export SKBUILD_CMAKE_DEFINE="ATOMIC_COUNTER_WERROR=ON"
setup_venv test
"$VENV/bin/python" -m pip install -q --disable-pip-version-check cmake ninja
export PATH="$VENV/bin:$PATH"

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

echo "==> clang-tidy on the public headers"
clang-tidy -p "$ROOT/build/cpp-clang" --quiet "$ROOT/tests/cpp/include_test.cpp" \
  "$ROOT"/build/cpp-clang/tests/cpp/include_*.cpp

echo "==> libFuzzer, ${ATOMIC_COUNTER_FUZZ_SECONDS:=60} s per target"
fuzz_build="$ROOT/build/fuzz"
cmake -S "$ROOT" -B "$fuzz_build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DATOMIC_COUNTER_FUZZ=ON >/dev/null
cmake --build "$fuzz_build"
for target in fuzz_counter_rules fuzz_time_rules fuzz_shared_region fuzz_layout; do
  corpus="$fuzz_build/corpus/$target"
  mkdir -p "$corpus"
  "$fuzz_build/tests/fuzz/$target" -max_total_time="$ATOMIC_COUNTER_FUZZ_SECONDS" \
    -print_final_stats=1 "$corpus" 2>"$fuzz_build/$target.log" ||
    { tail -n 60 "$fuzz_build/$target.log"; exit 1; }
  echo "$target: $(grep -E 'number_of_executed_units' "$fuzz_build/$target.log" | awk '{print $2}') runs, no failure"
done

echo "==> Python tests"
cd "$ROOT"
"$VENV/bin/python" -m pytest

echo "==> Python tests against an ASan + UBSan build of the extension"
asan_venv="$ROOT/build/asan-venv"
[[ -x "$asan_venv/bin/python" ]] || python3 -m venv "$asan_venv"
"$asan_venv/bin/python" -m pip install -q --disable-pip-version-check pytest hypothesis numpy redis
SKBUILD_CMAKE_DEFINE="CMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined;ATOMIC_COUNTER_WERROR=ON" \
  "$asan_venv/bin/python" -m pip install -q --disable-pip-version-check \
  --config-settings=build-dir="build/asan/{wheel_tag}" "$ROOT"
# The ASan runtime must come first, and libstdc++ with it so that its throw is intercepted.
# CPython itself is not built for leak checking: LeakSanitizer stays off (test_leaks covers
# leaks); the leak test and the test that installs the original from PyPI are left out here.
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
  "$asan_venv/bin/python" -m pytest -m "not leak" -k "not originals" -p no:cacheprovider
