#!/usr/bin/env bash
# Runs `make sanitize` (scripts/sanitize.sh) as part of the README test
# command: chatstore built with AddressSanitizer + UBSan, the whole pg_regress
# and isolation suites on its own throwaway cluster (it does not use the
# PGHOST/PGPORT cluster of scripts/test.sh).  About a minute.
# CHATSTORE_SKIP_SANITIZE=1 skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
if [ "${CHATSTORE_SKIP_SANITIZE:-0}" = 1 ]; then
    echo "sanitize: skipped (CHATSTORE_SKIP_SANITIZE=1)"
    exit 0
fi
export SANITIZE_DIR=${SANITIZE_DIR:-/tmp/chatstore-sanitize-$$}
trap 'rm -rf "$SANITIZE_DIR"' EXIT
"$root/scripts/sanitize.sh"
