#!/usr/bin/env bash
# Creates .venv and installs Groundwork with everything it needs, idempotently.
# Why a script and not a bare `pip install -e .`: torch must be the CPU build on machines without a GPU
# (otherwise pip resolves several GB of CUDA packages), and llama-cpp-python must be compiled with explicit
# CPU flags (the -march=native build crashes on quantized models on AMX CPUs; see
# ../shared/docs/ENVIRONMENT.md). The compiled wheel is kept in .wheels/ so later installs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
PIP="$VENV/bin/python -m pip"
LLAMA_VERSION=0.3.36
UNSTRUCTURED_INFERENCE_VERSION=1.6.14

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    ACCEL=gpu
    LLAMA_CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF"
else
    ACCEL=cpu
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON -DLLAVA_BUILD=OFF"
fi
EXTRAS="$ACCEL,dev"

stamp_inputs=$(cat pyproject.toml scripts/install.sh; echo "$ACCEL")
stamp=$(printf '%s' "$stamp_inputs" | sha256sum | cut -d' ' -f1)
if [ -f "$VENV/.installed" ] && [ "$(cat "$VENV/.installed")" = "$stamp" ]; then
    echo "install: .venv is up to date ($ACCEL)"
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
$PIP install -q --upgrade pip setuptools wheel

# On these machines the pip configuration offers the CPU build of this version first (19 s, no nvidia
# packages); on a machine with a GPU the registry's CUDA build is the right one.
$PIP install -q "torch==2.13.0"
# Every later pip call keeps the torch that is installed now.
"$VENV/bin/python" -W ignore -c 'import torch; print("torch==" + torch.__version__)' > "$VENV/constraints.txt"

mkdir -p .wheels
if ! ls .wheels/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "install: compiling llama-cpp-python $LLAMA_VERSION ($ACCEL, a few minutes, once)"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" $PIP wheel -q --no-cache-dir --no-deps -w .wheels "llama-cpp-python==$LLAMA_VERSION"
fi

$PIP install -q --no-deps "unstructured-inference==$UNSTRUCTURED_INFERENCE_VERSION"
$PIP install -q -c "$VENV/constraints.txt" --find-links .wheels -e ".[$EXTRAS]"
echo "$stamp" > "$VENV/.installed"
echo "install: done ($ACCEL)"
