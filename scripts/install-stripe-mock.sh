#!/usr/bin/env bash
# stripe-mock, Stripe's own mock of its API, from the Go module proxy into .tools/bin, for the
# tests of the Stripe adapter (GitHub's release downloads are not reachable here). The tests run
# this when .tools/bin/stripe-mock is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
STRIPE_MOCK_VERSION="${STRIPE_MOCK_VERSION:-v0.203.0}"
if [ ! -x .tools/bin/stripe-mock ]; then
  command -v go >/dev/null 2>&1 || { echo "stripe-mock needs Go to install (go install github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION})" >&2; exit 1; }
  mkdir -p .tools/bin
  GOBIN="$PWD/.tools/bin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}"
fi
echo "stripe-mock ${STRIPE_MOCK_VERSION} in .tools/bin"
