#!/usr/bin/env bash
# Development helper: build and install the extension under a lock, so that
# several people (or processes) working in one tree never build at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# warnings are errors in the project's own builds (the Makefile alone only
# turns on -Wall -Wextra)
exec flock /tmp/chatstore-build.lock make -s PG_CONFIG="$PG_CONFIG" COPT=-Werror install >/dev/null
