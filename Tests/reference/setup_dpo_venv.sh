#!/bin/sh
# Creates (once) the venv of the DPO reference and benchmark (TRL, PEFT, transformers, torch CPU): TRL needs a newer
# transformers than the llama.cpp reference venv pins, so it has its own, cached per user. Prints its python path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${TAILOR_DPO_VENV:-$HOME/.cache/tailor/venv-dpo}
if ! "$venv/bin/python" -c "import trl, peft, transformers, gguf" 2>/dev/null; then
    echo "building the DPO reference venv in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$here/requirements-dpo.txt" >&2
fi
echo "$venv/bin/python"
