#!/usr/bin/env bash
# Debian's Redis server, for the tests of the Redis rate-limit store (REDIS_URL). Does nothing when
# a redis-server is already installed. The suite starts its own on a free port.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends redis-server || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends redis-server; }
# Debian's package starts a service where there is an init system; the tests need only the binary.
$SUDO service redis-server stop >/dev/null 2>&1 || true
redis-server --version
