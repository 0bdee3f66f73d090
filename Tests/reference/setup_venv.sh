#!/bin/sh
# Creates (once) the reference venv: llama-cpp-python is built from source (~15 minutes on 2 cores), so the venv
# lives in a per-user cache and is reused by every clone. Prints the venv's python path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${TAILOR_REF_VENV:-$HOME/.cache/tailor/venv-ref}
if ! "$venv/bin/python" -c "import llama_cpp, transformers, peft, gguf" 2>/dev/null; then
    echo "building the reference venv in $venv (llama-cpp-python compiles for ~15 minutes)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >&2
    CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
fi
echo "$venv/bin/python"
