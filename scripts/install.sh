#!/usr/bin/env bash
# Creates .venv and installs Groundwork with everything it needs, idempotently.
# Why a script and not a bare `pip install -e .`: torch must be the CPU build on machines without a GPU
# (otherwise pip resolves several GB of CUDA packages), and llama-cpp-python must be compiled with explicit
# CPU flags (the -march=native build crashes on quantized models on AMX CPUs; see
# ../shared/docs/ENVIRONMENT.md). The compiled wheel is kept in .wheels/ (per CPU type) so later installs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
PIP="$VENV/bin/python -m pip"
LLAMA_VERSION=0.3.36
UNSTRUCTURED_INFERENCE_VERSION=1.6.14
# The int8 embedding model (rag/embedding_int8.py). Installed without their dependencies so that
# openvino-telemetry, which they name and which sends usage data unless told not to, is never installed.
INT8_PACKAGES="openvino==2026.4.1 nncf==3.4.0 tabulate==0.10.0"

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    ACCEL=gpu
    LLAMA_CMAKE_ARGS="-DGGML_CUDA=on -DLLAVA_BUILD=OFF"
else
    ACCEL=cpu
    # Each instruction set on only when this CPU has it (an AVX-VNNI build dies with SIGILL on AMD EPYC
    # CPUs that lack it), and never the AMX path (the -march=native build crashes on AMX CPUs).
    cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
    for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512vbmi:AVX512_VBMI \
                avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
        if [[ "$cpu_flags" == *" ${pair%%:*} "* ]]; then state=ON; else state=OFF; fi
        LLAMA_CMAKE_ARGS+=" -DGGML_${pair#*:}=$state"
    done
fi
LLAMA_WHEELS=".wheels/$(printf '%s' "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
EXTRAS="$ACCEL,dev"

stamp_inputs=$(cat pyproject.toml scripts/install.sh; echo "$ACCEL $LLAMA_CMAKE_ARGS")
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

mkdir -p "$LLAMA_WHEELS"
if ! ls "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    echo "install: compiling llama-cpp-python $LLAMA_VERSION ($ACCEL, a few minutes, once per CPU type)"
    echo "install: $LLAMA_CMAKE_ARGS"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" $PIP wheel -q --no-cache-dir --no-deps -w "$LLAMA_WHEELS" \
        "llama-cpp-python==$LLAMA_VERSION"
fi

# Replaces a llama-cpp-python compiled for another CPU (a venv carried over from another machine).
$PIP install -q --no-deps --force-reinstall "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
$PIP install -q --no-deps "unstructured-inference==$UNSTRUCTURED_INFERENCE_VERSION"
$PIP install -q -c "$VENV/constraints.txt" --find-links "$LLAMA_WHEELS" -e ".[$EXTRAS]"
$PIP install -q --no-deps $INT8_PACKAGES
echo "$stamp" > "$VENV/.installed"
echo "install: done ($ACCEL)"
