#!/usr/bin/env bash
# Create .venv in the repo root and install aligntax with every extra. Idempotent.
#   bash scripts/setup.sh            # + fetch and convert the embedded default model
#   bash scripts/setup.sh --no-model # packages only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned (torch==2.13.0, CPU build) in pyproject's [model] extra; an unpinned torch pulls a CUDA build.
.venv/bin/python -m pip install -q -e '.[all,ray]'  # ray: the --engine ray equality tests run in CI
if [ "${1:-}" != "--no-model" ]; then
  .venv/bin/aligntax model fetch
fi
