#!/bin/sh
# Creates a Python venv at $1 with the pinned requirements in $2 (again only when the requirements changed).
set -eu
venv=$1; req=$2
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then exit 0; fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -r "$req"
cp "$req" "$stamp"
