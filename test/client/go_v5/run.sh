#!/usr/bin/env bash
# clients/go on pgx v5 (clients/go/v5check.sh): built, vetted and tested
# against pgx v5 source trees, offline.  A fresh machine has no pgx v5 (no
# Go module proxy here): the check prints its "skipped" line.  Where the
# sources were fetched (PGX_V5_SRC and PUDDLE_V2_SRC, or git snapshots of
# jackc/pgx and jackc/puddle under CHATSTORE_MIRROR, default /work/.mirror,
# as the session tool `fetch` leaves them), they are exported at
# PGX_V5_TAG (default v5.5.5: the newest whose go.mod Go 1.19 accepts) and
# PUDDLE_V2_TAG (default v2.2.1).  Gets PGHOST/PGPORT/PGUSER from
# scripts/test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
mirror=${CHATSTORE_MIRROR:-/work/.mirror}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export_tag() {   # git dir, tag, destination
    [ -d "$1" ] && git -C "$1" rev-parse -q --verify "$2^{commit}" >/dev/null || return 1
    mkdir -p "$3" && git -C "$1" archive "$2" | tar -x -C "$3"
}
if [ -z "${PGX_V5_SRC:-}" ] && export_tag "$mirror/jackc+pgx/repo" "${PGX_V5_TAG:-v5.5.5}" "$work/pgx"; then
    export PGX_V5_SRC=$work/pgx
fi
if [ -z "${PUDDLE_V2_SRC:-}" ] && export_tag "$mirror/jackc+puddle/repo" "${PUDDLE_V2_TAG:-v2.2.1}" "$work/puddle"; then
    export PUDDLE_V2_SRC=$work/puddle
fi
exec bash "$root/clients/go/v5check.sh"
