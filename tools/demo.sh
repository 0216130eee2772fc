#!/usr/bin/env bash
# Sets everything up and runs the main job: a short demo that draws ids and decodes them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_venv >&2
exec "$VENV/bin/python" "$ROOT/examples/demo.py"
