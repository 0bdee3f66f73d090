#!/bin/sh
# llama.cpp's test vocabularies of real models (GPT-2, Llama 3, Qwen2, ...) for the tokenizer tests, taken from the
# llama-cpp-python 0.3.36 source package on PyPI and cached per user; linked at models/vocab.
set -eu
cd "$(dirname "$0")/.."
cache=${TAILOR_CACHE:-$HOME/.cache/tailor}/llama-vocab-0.3.36
if [ ! -f "$cache/ggml-vocab-llama-bpe.gguf" ]; then
    echo "fetching llama.cpp's test vocabularies (llama-cpp-python 0.3.36 sdist from PyPI)" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$tmp" llama-cpp-python==0.3.36
    mkdir -p "$cache.part"
    tar -xzf "$tmp"/llama_cpp_python-0.3.36.tar.gz -C "$tmp" --wildcards '*/vendor/llama.cpp/models/ggml-vocab-*.gguf'
    cp "$tmp"/llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-*.gguf "$cache.part"/
    rm -rf "$cache" && mv "$cache.part" "$cache"
fi
mkdir -p models
ln -sfn "$cache" models/vocab
