#!/usr/bin/env bash
# The test suite (the same command CI runs). Sets up .venv first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/aligntax ] || bash scripts/setup.sh --no-model
exec .venv/bin/python -m pytest -q -m "not slow" "$@"
