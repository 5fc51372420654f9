#!/usr/bin/env bash
# The main job on the embedded default: set up, then audit the bundled SFT sample and print the report path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/aligntax audit --out out/demo "$@"
