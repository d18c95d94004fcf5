#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install wmrlib with the given extras.
# Usage: bash scripts/setup_env.sh EXTRAS   (EXTRAS like "test" or "test,book")
# WMR_VENV picks the environment's folder (default .venv); WMR_FRESH_VENV=1 recreates it.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
venv="${WMR_VENV:-.venv}"
if [ "${WMR_FRESH_VENV:-0}" = 1 ]; then rm -rf "$venv"; fi
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
stamp="$venv/.wmr-installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  # Pin torch/torchvision first: an unpinned 'torch' can pull a multi-GB build from the index.
  "$venv/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v '^WARNING: Location' || true
  "$venv/bin/python" -m pip install -q -e ".[$extras]" 2>&1 | grep -v '^WARNING: Location' || true
  "$venv/bin/python" -c "import wmrlib, torch, torchvision" 
  touch "$stamp"
fi
