#!/usr/bin/env bash
# Run the test suite (fast tests; add '-m slow' for the slow ones) in the project's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh test
if [ -z "${WMR_DATA_ROOT:-}" ] && [ -d ../shared/data ]; then export WMR_DATA_ROOT="$(cd ../shared/data && pwd)"; fi
exec "${WMR_VENV:-.venv}/bin/python" -m pytest -q "$@"
