#!/usr/bin/env bash
# Schemathesis from PyPI into .tools/schemathesis, for the API fuzz test (test/fuzz). Does nothing
# when that version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
VENV=.tools/schemathesis
if [ -x "$VENV/bin/st" ] && "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then exit 0; fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
"$VENV/bin/st" --version
