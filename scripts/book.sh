#!/usr/bin/env bash
# Build the Jupyter Book from the stored results (results/): every chapter notebook is executed
# read-only against the store, so nothing trains. Any notebook error, missing glue key or other
# Sphinx warning fails the build with a non-zero exit status.
# Usage: bash scripts/book.sh [extra jupyter-book build options]
# WMR_VENV picks the environment's folder (default .venv), as in scripts/setup_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "test,book"
venv="${WMR_VENV:-.venv}"
venv_abs="$(cd "$venv" && pwd)"
if [ -z "${WMR_DATA_ROOT:-}" ] && [ -d ../shared/data ]; then export WMR_DATA_ROOT="$(cd ../shared/data && pwd)"; fi
# The notebooks' kernel must be this environment's Python: put it first on PATH and its kernel
# spec first on Jupyter's search path (ahead of any user-level "python3" kernel).
export PATH="$venv_abs/bin:$PATH"
export JUPYTER_PATH="$venv_abs/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
# A clean build: Sphinx would otherwise skip unchanged pages (and not re-execute them).
rm -rf _build
started=$(date +%s)
# -W: warnings (a failed notebook, a missing glue key, a broken reference) are errors;
# -n: nitpicky references; --keep-going: report every problem, then exit non-zero;
# --all: read (and so execute) every page.
"$venv_abs/bin/jupyter-book" build . --all -W -n --keep-going "$@"
echo "Book built in $(( $(date +%s) - started )) s: $(pwd)/_build/html/index.html"
