#!/usr/bin/env bash
# The test suite (the same command CI runs). Sets up .venv first if it is missing.
# Then, when Ray is installed, the Ray engine's equality tests (marked slow + ray, about a minute).
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/aligntax ] || bash scripts/setup.sh --no-model || exit 1

run() {  # pytest exit code 5 = no tests collected (e.g. a path argument without ray tests): not a failure
  .venv/bin/python -m pytest -q "$@"
  local rc=$?
  [ "$rc" -eq 5 ] && return 0
  return "$rc"
}

run -m "not slow" "$@" || exit $?
if .venv/bin/python -c "import ray" >/dev/null 2>&1; then
  run -m ray -p no:logging "$@" || exit $?
else
  echo "ray not installed: skipping the Ray engine equality tests (pip install 'aligntax[ray]')"
fi
