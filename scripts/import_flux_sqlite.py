#!/usr/bin/python3
"""Import a flux-rag SQLite history file into chatstore.

    import_flux_sqlite.py FILE [--user-id ID] [--dsn DSN]

flux-rag's SQLite store has two tables:

    sessions(id TEXT PRIMARY KEY, title TEXT, metadata TEXT (JSON),
             created_at TIMESTAMP, updated_at TIMESTAMP)
    messages(id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT,
             role TEXT, content TEXT, metadata TEXT (JSON), created_at TIMESTAMP)

The file is opened read-only.  Its rows are copied into temporary tables of
one PostgreSQL transaction and handed to chat_import_flux_rag('pg_temp',
user_id), so the SQLite and the Postgres import share one implementation:
session and message ids are kept (message ids become text), messages keep
their order (created_at, then the file's row order) and timestamps (SQLite's timestamps
without a zone are UTC), and a second run adds nothing.  All or nothing:
any bad row rolls the whole import back.

The connection comes from --dsn or the usual PG* environment variables.
Prints one line of counts; exits 1 on error.
Needs /usr/bin/python3 with the sqlite3 module and psycopg 3 (Debian's
python3-psycopg).
"""
import argparse
import datetime
import sqlite3
import sys

import psycopg
from psycopg import sql

SESSION_COLS = ["id", "title", "metadata", "created_at", "updated_at"]
MESSAGE_COLS = ["id", "session_id", "role", "content", "metadata", "created_at"]


def sqlite_rows(db, table, wanted):
    """Rows of a table as tuples in `wanted` column order (absent columns: None)."""
    have = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
    if not have:
        raise SystemExit(f"import_flux_sqlite: the file has no table {table!r}")
    for col in ("id",) + (("session_id",) if table == "messages" else ()):
        if col not in have:
            raise SystemExit(f"import_flux_sqlite: table {table!r} has no column {col!r}")
    exprs = [f'"{c}"' if c in have else "NULL" for c in wanted]
    # in the file's row order, which the import keeps for equal created_at
    # (a table WITHOUT ROWID has none: then its primary key order)
    try:
        return db.execute(f'SELECT {", ".join(exprs)} FROM "{table}" ORDER BY rowid').fetchall()
    except sqlite3.OperationalError:
        return db.execute(f'SELECT {", ".join(exprs)} FROM "{table}"').fetchall()


def epoch(v):
    """A SQLite time value for timestamptz input: numbers are unix seconds,
    text goes to timestamptz input as is (no zone = UTC, see SET LOCAL)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.datetime.fromtimestamp(v, datetime.timezone.utc)
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description="Import a flux-rag SQLite file into chatstore.")
    ap.add_argument("file", help="the flux-rag SQLite database file")
    ap.add_argument("--user-id", default=None,
                    help="user_id that owns the imported threads (flux-rag has no users)")
    ap.add_argument("--dsn", default="", help="libpq connection string (default: PG* environment)")
    args = ap.parse_args(argv)

    try:
        src = sqlite3.connect(f"file:{args.file}?mode=ro", uri=True)
        sessions = sqlite_rows(src, "sessions", SESSION_COLS)
        messages = sqlite_rows(src, "messages", MESSAGE_COLS)
        src.close()
    except sqlite3.Error as e:
        print(f"import_flux_sqlite: cannot read {args.file}: {e}", file=sys.stderr)
        return 1

    try:
        with psycopg.connect(args.dsn) as conn, conn.transaction():
            row = conn.execute(
                "SELECT n.nspname FROM pg_catalog.pg_extension e "
                "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'chatstore'").fetchone()
            if row is None:
                print("import_flux_sqlite: the chatstore extension is not installed in this database",
                      file=sys.stderr)
                return 1
            schema = row[0]
            conn.execute("SET LOCAL TimeZone = 'UTC'")
            conn.execute("""CREATE TEMP TABLE sessions (
                                id text, title text, metadata text,
                                created_at timestamptz, updated_at timestamptz) ON COMMIT DROP""")
            conn.execute("""CREATE TEMP TABLE messages (
                                id bigint, session_id text, role text, content text,
                                metadata text, created_at timestamptz) ON COMMIT DROP""")
            with conn.cursor() as cur:
                with cur.copy("COPY pg_temp.sessions (id, title, metadata, created_at, updated_at) FROM STDIN") as cp:
                    for r in sessions:
                        cp.write_row([None if r[0] is None else str(r[0]), r[1], r[2],
                                      epoch(r[3]), epoch(r[4])])
                with cur.copy("COPY pg_temp.messages (id, session_id, role, content, metadata, created_at) FROM STDIN") as cp:
                    for r in messages:
                        cp.write_row([r[0], None if r[1] is None else str(r[1]), r[2], r[3], r[4], epoch(r[5])])
            res = conn.execute(
                sql.SQL("SELECT * FROM {}.chat_import_flux_rag('pg_temp', %s)").format(sql.Identifier(schema)),
                (args.user_id,)).fetchone()
    except psycopg.Error as e:
        diag = e.diag
        print(f"import_flux_sqlite: {diag.sqlstate or ''} {diag.message_primary or e}"
              + (f" ({diag.message_detail})" if diag.message_detail else ""), file=sys.stderr)
        return 1

    print(f"sessions: {len(sessions)} read, {res[0]} created; "
          f"messages: {len(messages)} read, {res[2]} imported, {res[3]} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
