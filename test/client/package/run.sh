#!/usr/bin/env bash
# The release packaging (GitHub issue #11):
#   0. make dist: the zip of HEAD holds META.json, the control file, the
#      Makefile, LICENSE, CHANGELOG.md and README.md, and builds with make;
#   1. META.json: PGXN Meta Spec 1.0.0, and one version in META.json,
#      chatstore.control, the Makefile, the shipped scripts, debian/changelog
#      and CHANGELOG.md (check_meta.py, with a self-test that alters copies
#      and must see each alteration caught);
#   2. the Debian package: a copy of the repository (committed and working-tree
#      files, no build products) is built with `dpkg-buildpackage -us -uc -b`
#      (pg_buildext, an out-of-tree build), and the .deb must hold chatstore.so,
#      chatstore.control and every chatstore--*.sql (with the generated one);
#   3. the package alone works: under the build lock (/tmp/chatstore-build.lock,
#      the one scripts/lib.sh and scripts/dev-install.sh take), what
#      `make install` put into PostgreSQL's directories is saved and removed,
#      the .deb is installed with apt-get, `dpkg -L` must list the files, a
#      private throwaway cluster (CHATSTORE_TMP /tmp/cs-pkg, port 54351: not
#      the cluster of scripts/test.sh) runs CREATE EXTENSION, an update from
#      every shipped version, and the pg_regress + isolation suites (`make
#      installcheck` of the copy, the project's own runner); then the package
#      is purged and the saved `make install` files are put back (or, when
#      nothing was installed before, `make install` runs from the repository),
#      and the restored files are compared with the saved ones.
# Needs root (apt-get, PostgreSQL's directories); installs debhelper,
# postgresql-server-dev-all and dpkg-dev when they are missing.  ~30 s (build
# ~10 s, suites ~10 s; the make install files are away for ~15 s of it).
# PACKAGE_KEEP=1 keeps the scratch directory; CHATSTORE_SKIP_PACKAGE=1 skips
# the Debian part (2 and 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
# a private cluster, never the one of scripts/test.sh (lib.sh reads these)
CHATSTORE_TMP=${CHATSTORE_PKG_TMP:-/tmp/cs-pkg}
CHATSTORE_PORT=${CHATSTORE_PKG_PORT:-54351}
source "$root/scripts/lib.sh"   # (set -euo pipefail, PG_CONFIG, as_pg, cs_cluster_*)
LOCK=/tmp/chatstore-build.lock
t0=$SECONDS
step() { printf '\n== package [%ss]: %s\n' "$((SECONDS - t0))" "$*"; }
fail() { echo "package: FAIL: $*" >&2; exit 1; }

step "META.json against the PGXN Meta Spec 1.0.0; one version everywhere"
python3 "$here/check_meta.py" --self-test "$root"

step "make dist: the PGXN release zip of HEAD, and it builds"
distdir=$(mktemp -d /tmp/cs-dist.XXXXXX)
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/chatstore.control")
make -C "$root" -s dist >/dev/null
mv "$root/chatstore-$version.zip" "$distdir/"
( cd "$distdir" && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall()' "chatstore-$version.zip" )
for f in META.json chatstore.control Makefile LICENSE CHANGELOG.md README.md; do
    [ -e "$distdir/chatstore-$version/$f" ] || { rm -rf "$distdir"; fail "make dist: chatstore-$version.zip lacks $f"; }
done
make -C "$distdir/chatstore-$version" -s PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 \
    || { rm -rf "$distdir"; fail "make dist: chatstore-$version.zip does not build with make"; }
[ -e "$distdir/chatstore-$version/chatstore.so" ] && [ -e "$distdir/chatstore-$version/chatstore--$version.sql" ] \
    || { rm -rf "$distdir"; fail "make dist: the build of the zip made no chatstore.so or chatstore--$version.sql"; }
echo "chatstore-$version.zip: $(python3 -c 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()))' "$distdir/chatstore-$version.zip") entries, builds with make"
rm -rf "$distdir"

if [ "${CHATSTORE_SKIP_PACKAGE:-0}" = 1 ]; then
    echo "package: Debian package skipped (CHATSTORE_SKIP_PACKAGE=1)"
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "the Debian package test needs root (apt-get, PostgreSQL's directories)"

step "build dependencies"
need=""
for p in debhelper postgresql-server-dev-all dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $need >/dev/null
else
    echo "debhelper, postgresql-server-dev-all, dpkg-dev: installed"
fi

pkg=postgresql-15-chatstore
pkglibdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
work=$(mktemp -d /tmp/cs-pkg-build.XXXXXX)
src=$work/chatstore
locked=0
restored=1

# what `make install` puts into PostgreSQL's directories (relative to /)
installed_files() {
    local f
    for f in "$pkglibdir/chatstore.so" "$pkglibdir/bitcode/chatstore.index.bc" \
             "$pkglibdir/bitcode/chatstore" "$extdir"/chatstore.control "$extdir"/chatstore--*.sql; do
        [ -e "$f" ] && echo "${f#/}"
    done
    return 0
}

# put back what was there before: the package goes, the saved files return
restore() {
    [ "$restored" = 1 ] && return 0
    restored=1
    local status=0
    step "restore: remove $pkg, put back the make install files"
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed\|config-files'; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "$pkg" >/dev/null || status=1
    fi
    installed_files | sed 's|^|/|' | xargs -r rm -rf
    if [ -s "$work/saved.list" ]; then
        tar -C / -xpf "$work/saved.tar" || status=1
        if tar -C / -df "$work/saved.tar" >/dev/null; then
            echo "restored the $(wc -l < "$work/saved.list") saved paths; they equal what was there before"
        else
            echo "the restored files differ from the saved ones"; status=1
        fi
    else
        echo "nothing was installed before: make install from $root"
        make -C "$root" -s PG_CONFIG="$PG_CONFIG" COPT=-Werror install >/dev/null || status=1
    fi
    [ -e "$pkglibdir/chatstore.so" ] && [ -e "$extdir/chatstore.control" ] || status=1
    return $status
}

cleanup() {
    local rc=$?
    set +e
    cs_cluster_stop
    restore || { echo "package: FAIL: could not restore the make install state" >&2; rc=1; }
    [ "$locked" = 1 ] && exec 9>&-
    rm -rf "$CHATSTORE_TMP"
    if [ "${PACKAGE_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
    exit $rc
}
trap cleanup EXIT

step "copy of the repository in $src (committed and working-tree files)"
mkdir -p "$src"
# tracked files that still exist, and untracked ones that are not ignored
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$root" && while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done) |
    (cd "$root" && xargs -0 -r cp --parents -t "$src")
echo "$(find "$src" -type f | wc -l) files"
[ -f "$src/debian/rules" ] || fail "no debian/rules in the copy"

step "dpkg-buildpackage -us -uc -b"
version=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb=$work/${pkg}_${version}_${arch}.deb
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    fail "dpkg-buildpackage failed (log above)"
fi
grep -E "^dpkg-deb: building package" "$work/build.log" || true
[ -f "$deb" ] || fail "no $deb"

step "contents of $(basename "$deb")"
extversion=$(sed -n 's/^EXTVERSION *= *//p' "$src/Makefile")
expect="./usr/lib/postgresql/15/lib/chatstore.so
./usr/share/postgresql/15/extension/chatstore.control
./usr/share/postgresql/15/extension/chatstore--$extversion.sql"
for f in "$src"/chatstore--*.sql; do
    expect="$expect
./usr/share/postgresql/15/extension/$(basename "$f")"
done
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
missing=$(comm -23 <(echo "$expect" | sort -u) <(echo "$contents" | sort -u))
[ -z "$missing" ] || fail "the package lacks: $missing"
extra_sql=$(echo "$contents" | grep -E '/extension/chatstore--.*\.sql$' | sort | comm -13 <(echo "$expect" | sort -u) - || true)
[ -z "$extra_sql" ] || fail "the package has scripts the tree does not: $extra_sql"
echo "$(echo "$expect" | wc -l) expected files present: chatstore.so, chatstore.control, $(ls "$src"/chatstore--*.sql | wc -l) shipped scripts and the generated chatstore--$extversion.sql"
dpkg-deb -f "$deb" Package Version Depends

step "waiting for the build lock $LOCK"
exec 9>"$LOCK"
flock -w 900 9 || fail "could not take $LOCK within 15 minutes"
locked=1
restored=0

step "save and remove what make install put into PostgreSQL's directories"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    echo "$pkg was installed before this test (a run that died?): purging it first"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "$pkg" >/dev/null
fi
installed_files > "$work/saved.list"
if [ -s "$work/saved.list" ]; then
    tar -C / -cpf "$work/saved.tar" -T "$work/saved.list"
    sed 's|^|  /|' "$work/saved.list"
    sed 's|^|/|' "$work/saved.list" | xargs -r rm -rf
else
    echo "(nothing installed)"
fi
[ -z "$(installed_files)" ] || fail "files left: $(installed_files)"

step "apt-get install $(basename "$deb")"
(cd "$work" && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "./$(basename "$deb")") > "$work/apt.log" 2>&1 ||
    { cat "$work/apt.log"; fail "apt-get install failed"; }
dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$pkg"
listed=$(dpkg -L "$pkg" | sed 's|^|.|')
missing=$(comm -23 <(echo "$expect" | sort -u) <(echo "$listed" | sort -u))
[ -z "$missing" ] || fail "dpkg -L $pkg lacks: $missing"
echo "dpkg -L lists chatstore.so, chatstore.control and the $(echo "$expect" | grep -c 'chatstore--') scripts"

step "a private cluster in $CHATSTORE_TMP (port $CHATSTORE_PORT)"
cs_cluster_start 9>&-   # (the server must not inherit the lock)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE cs_pkg'
got=$(psql -X -q -At -v ON_ERROR_STOP=1 -d cs_pkg -c 'CREATE EXTENSION chatstore' \
      -c "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'" \
      -c "SELECT probin FROM pg_proc WHERE proname = 'chat_save_messages'")
echo "CREATE EXTENSION chatstore: $(echo "$got" | tr '\n' ' ')"
[ "$(echo "$got" | head -1)" = "$extversion" ] || fail "installed version is not $extversion"
# every shipped version installs and updates to the current one
for v in $(psql -X -At -d cs_pkg -c "SELECT version FROM pg_available_extension_versions
                                      WHERE name = 'chatstore' AND version <> '$extversion' ORDER BY 1"); do
    psql -X -q -v ON_ERROR_STOP=1 -d cs_pkg -c 'DROP EXTENSION chatstore CASCADE' \
        -c "CREATE EXTENSION chatstore VERSION '$v'" -c 'ALTER EXTENSION chatstore UPDATE'
    now=$(psql -X -At -d cs_pkg -c "SELECT extversion FROM pg_extension WHERE extname = 'chatstore'")
    [ "$now" = "$extversion" ] || fail "$v updated to $now, not $extversion"
    echo "CREATE EXTENSION chatstore VERSION '$v'; ALTER EXTENSION chatstore UPDATE: $now"
done
psql -X -q -d postgres -c 'DROP DATABASE cs_pkg'

step "pg_regress and isolation suites against the installed package (make installcheck)"
if ! make -C "$src" -s PG_CONFIG="$PG_CONFIG" installcheck 9>&- > "$work/installcheck.log" 2>&1; then
    cat "$work/installcheck.log"
    for f in "$src/regression.diffs" "$src/output_iso/regression.diffs"; do
        [ -f "$f" ] && head -c 20000 "$f"
    done
    fail "the regression suites failed against the installed package"
fi
grep -E "tests (passed|failed)" "$work/installcheck.log" || true
cs_cluster_stop

restore || fail "could not restore the make install state"
exec 9>&-
locked=0
step "done: the package builds, holds every file, installs, passes the suites and is gone again"
