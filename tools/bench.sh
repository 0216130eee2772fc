#!/usr/bin/env bash
# Sets everything up and runs the benchmark suite: builds the package, measures it beside its
# peers (Python and C++) and writes docs/benchmarks.md and docs/benchmarks.png.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

apt_install libbenchmark-dev g++ postgresql
setup_venv bench
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/python" "$ROOT/bench/run.py" "$@"
