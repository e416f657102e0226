"""flux-rag against chatstore.

flux-rag keeps sessions (title, metadata) and messages (role, content,
metadata) and performs: create_session, get_session, get_sessions(limit,
offset) with message_count, update_session_title, delete_session,
add_message -> id, get_history(limit), clear_all; plus the import of an existing SQLite history with
scripts/import_flux_sqlite.py.  SessionStore below is
that store written on chatstore, one SQL call per operation.  flux-rag has
no users; its sessions are owned by one application user id (APP), which
is what clear_all deletes.
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

import psycopg
from psycopg.types.json import Jsonb

APP = "flux-rag"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


class SessionStore:
    def __init__(self, conn):
        self.conn = conn

    def create_session(self, title="New chat", metadata=None):
        return self.conn.execute(
            "SELECT id FROM chat_create_thread(user_id => %s, title => %s, metadata => %s)",
            (APP, title, Jsonb(metadata or {}))).fetchone()[0]

    def get_session(self, session_id):
        cur = self.conn.execute(
            "SELECT id, title, metadata, message_count, created_at, updated_at "
            "FROM chat_get_thread(%s, %s)", (session_id, APP))
        row = cur.fetchone()
        return None if row is None else dict(zip([d.name for d in cur.description], row))

    def get_sessions(self, limit=20, offset=0):
        return self.conn.execute(
            "SELECT id, title, message_count FROM chat_list_threads(%s, %s, page_offset => %s)",
            (APP, limit, offset)).fetchall()

    def update_session_title(self, session_id, title):
        return self.conn.execute(
            "SELECT count(*) = 1 FROM chat_update_thread(%s, title => %s, user_id => %s)",
            (session_id, title, APP)).fetchone()[0]

    def delete_session(self, session_id):
        return self.conn.execute("SELECT chat_delete_thread(%s, %s)", (session_id, APP)).fetchone()[0]

    def add_message(self, session_id, role, content, metadata=None):
        return self.conn.execute(
            "SELECT id FROM chat_add_message(%s, %s, %s, %s, %s)",
            (session_id, role, content, APP, Jsonb(metadata or {}))).fetchone()[0]

    def get_history(self, session_id, limit=None):
        return self.conn.execute(
            "SELECT id, role, content, metadata FROM chat_history(%s, %s)",
            (session_id, limit)).fetchall()

    def clear_all(self):
        return self.conn.execute("SELECT chat_delete_user_data(%s)", (APP,)).fetchone()[0]


SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                      "scripts", "import_flux_sqlite.py")

# flux-rag's SQLite schema
SQLITE_DDL = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT 'New Chat',
    metadata TEXT DEFAULT '{}',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    metadata TEXT DEFAULT '{}',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
"""


def run_import(path):
    return subprocess.run(["/usr/bin/python3", SCRIPT, path, "--user-id", APP],
                          capture_output=True, text=True)


def sqlite_import(conn, st):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "flux.db")
        db = sqlite3.connect(path)
        db.executescript(SQLITE_DDL)
        db.execute("INSERT INTO sessions VALUES ('sq-1', 'From SQLite', '{\"k\": \"v\"}', "
                   "'2025-03-01 10:00:00', '2025-03-01 10:05:00')")
        db.execute("INSERT INTO sessions (id, title, created_at, updated_at) VALUES "
                   "('sq-2', 'Second', '2025-03-02 09:00:00', '2025-03-02 09:00:00')")
        # same second for a whole turn: the autoincrement id decides
        rows = [("sq-1", "user", "q1", "{}", "2025-03-01 10:00:00"),
                ("sq-1", "assistant", "a1", '{"sources": ["x.pdf"]}', "2025-03-01 10:00:00"),
                ("sq-1", "user", "q2", "{}", "2025-03-01 10:05:00"),
                ("sq-1", "assistant", "a2", "{}", "2025-03-01 10:05:00"),
                ("sq-2", "user", "only", "{}", "2025-03-02 09:00:00")]
        db.executemany("INSERT INTO messages (session_id, role, content, metadata, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
        db.close()

        env_ok = run_import(path)
        check("sqlite: import ok", env_ok.returncode == 0, env_ok.stderr)
        check("sqlite: counts", "2 created" in env_ok.stdout and "5 imported" in env_ok.stdout, env_ok.stdout)
        again = run_import(path)
        check("sqlite: second run adds nothing", again.returncode == 0 and "0 created" in again.stdout
              and "0 imported, 5 already there" in again.stdout, again.stdout + again.stderr)

        got = conn.execute("""SELECT thread_id, seq, id, role, content, metadata,
                                     to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                              FROM chat_messages WHERE thread_id LIKE 'sq-%%'
                              ORDER BY thread_id, seq""").fetchall()
        want = [("sq-1", 1, "1", "user", "q1", {}, "2025-03-01 10:00:00"),
                ("sq-1", 2, "2", "assistant", "a1", {"sources": ["x.pdf"]}, "2025-03-01 10:00:00"),
                ("sq-1", 3, "3", "user", "q2", {}, "2025-03-01 10:05:00"),
                ("sq-1", 4, "4", "assistant", "a2", {}, "2025-03-01 10:05:00"),
                ("sq-2", 1, "5", "user", "only", {}, "2025-03-02 09:00:00")]
        check("sqlite: messages row by row", got == want, got)
        t = conn.execute("""SELECT id, user_id, title, metadata, message_count,
                                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                                   to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                            FROM chat_threads WHERE id LIKE 'sq-%%' ORDER BY id""").fetchall()
        check("sqlite: sessions row by row", t == [
            ("sq-1", APP, "From SQLite", {"k": "v"}, 4, "2025-03-01 10:00:00", "2025-03-01 10:05:00"),
            ("sq-2", APP, "Second", {}, 1, "2025-03-02 09:00:00", "2025-03-02 09:00:00")], t)
        # the imported sessions work with flux-rag's operations
        check("sqlite: get_sessions", [(r[0], r[2]) for r in st.get_sessions()] == [("sq-2", 1), ("sq-1", 4)],
              st.get_sessions())
        check("sqlite: get_history", [r[2] for r in st.get_history("sq-1", 2)] == ["q2", "a2"])
        check("sqlite: add_message continues", st.add_message("sq-1", "user", "more") is not None
              and st.get_session("sq-1")["message_count"] == 5)

        bad = run_import(os.path.join(tmp, "missing.db"))
        check("sqlite: missing file fails", bad.returncode != 0, bad.stdout)


def postgres_import(conn, st):
    """flux-rag's Postgres tables in another schema: chat_import_flux_rag."""
    conn.execute("""
        CREATE SCHEMA flux_src;
        CREATE TABLE flux_src.sessions (id text PRIMARY KEY, title text NOT NULL DEFAULT 'New Chat',
            metadata jsonb DEFAULT '{}', created_at timestamp DEFAULT CURRENT_TIMESTAMP,
            updated_at timestamp DEFAULT CURRENT_TIMESTAMP);
        CREATE TABLE flux_src.messages (id serial PRIMARY KEY,
            session_id text NOT NULL REFERENCES flux_src.sessions (id) ON DELETE CASCADE,
            role text NOT NULL, content text NOT NULL, metadata jsonb DEFAULT '{}',
            created_at timestamp DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO flux_src.sessions VALUES ('pg-1', 'From Postgres', '{"a": 1}', '2025-04-01 08:00', '2025-04-01 08:01');
        INSERT INTO flux_src.messages (session_id, role, content, created_at) VALUES
            ('pg-1', 'user', 'hello', '2025-04-01 08:00'), ('pg-1', 'assistant', 'hi', '2025-04-01 08:00');""")
    r1 = conn.execute("SELECT * FROM chat_import_flux_rag('flux_src', %s)", (APP,)).fetchone()
    r2 = conn.execute("SELECT * FROM chat_import_flux_rag('flux_src', %s)", (APP,)).fetchone()
    check("postgres import: counts", r1 == (1, 1, 2, 0) and r2 == (0, 1, 0, 2), (r1, r2))
    h = st.get_history("pg-1")
    check("postgres import: history", [(r[0], r[1], r[2]) for r in h] ==
          [("1", "user", "hello"), ("2", "assistant", "hi")], h)
    s = st.get_session("pg-1")
    check("postgres import: session", s["title"] == "From Postgres" and s["metadata"] == {"a": 1}
          and s["message_count"] == 2, s)
    conn.execute("DROP SCHEMA flux_src CASCADE")


def main():
    with psycopg.connect(autocommit=True) as conn:
        st = SessionStore(conn)
        # someone else's thread must survive clear_all
        conn.execute("SELECT chat_create_thread('flux-foreign', 'someone-else', 'keep me')")

        # create_session / get_session
        sid = st.create_session("Docs Q&A", {"collection": "manuals"})
        check("create: uuid id", len(sid) == 36 and sid.count("-") == 4, sid)
        s = st.get_session(sid)
        check("get_session", s and s["title"] == "Docs Q&A" and s["metadata"] == {"collection": "manuals"}
              and s["message_count"] == 0, s)
        check("get_session: unknown", st.get_session("no-such-session") is None)

        # add_message -> id; get_history(limit) oldest first
        ids = [st.add_message(sid, "user", "what is X?", {"sources": []}),
               st.add_message(sid, "assistant", "X is Y.", {"sources": ["doc1#p3"]}),
               st.add_message(sid, "user", "and Z?"),
               st.add_message(sid, "assistant", "Z is W.", {"sources": ["doc2#p1"]})]
        check("add_message: ids", len(set(ids)) == 4 and all(len(i) == 36 for i in ids), ids)
        h = st.get_history(sid)
        check("history: all, in order", [r[0] for r in h] == ids and [r[2] for r in h] ==
              ["what is X?", "X is Y.", "and Z?", "Z is W."], h)
        check("history: metadata", h[1][3] == {"sources": ["doc1#p3"]}, h[1])
        h = st.get_history(sid, 2)
        check("history: limit = latest, oldest first", [r[0] for r in h] == ids[2:], h)
        check("history: unknown session", st.get_history("no-such-session") == [])
        check("message_count", st.get_session(sid)["message_count"] == 4)
        try:
            st.add_message(sid, "wizard", "x")
            check("add_message: bad role refused", False)
        except psycopg.errors.Error as e:
            check("add_message: bad role refused", e.sqlstate is not None and e.sqlstate.startswith("22"), e.sqlstate)

        # get_sessions(limit, offset) with message_count, newest first
        sid2 = st.create_session("second")
        st.add_message(sid2, "user", "hello")
        sid3 = st.create_session("third")
        page = st.get_sessions(limit=2, offset=0)
        check("sessions: page 1 newest first", [r[0] for r in page] == [sid3, sid2], page)
        check("sessions: message_count", [r[2] for r in page] == [0, 1], page)
        page = st.get_sessions(limit=2, offset=2)
        check("sessions: page 2", [(r[0], r[2]) for r in page] == [(sid, 4)], page)
        check("sessions: only ours", all(r[0] != "flux-foreign" for r in st.get_sessions(100)))

        # update_session_title
        check("update title", st.update_session_title(sid, "Renamed") is True)
        check("update title: stored", st.get_session(sid)["title"] == "Renamed")
        check("update title: unknown", st.update_session_title("no-such-session", "x") is False)
        # renaming bumps recency: now first
        check("sessions: renamed is newest", st.get_sessions(1)[0][0] == sid)

        # delete_session
        check("delete", st.delete_session(sid2) is True)
        check("delete: gone", st.get_session(sid2) is None and st.get_history(sid2) == [])
        check("delete: again", st.delete_session(sid2) is False)

        # clear_all
        res = st.clear_all()
        check("clear_all: counts", res == {"threads": 2, "messages": 4, "preferences": 0}, res)
        check("clear_all: empty", st.get_sessions(100) == [])
        n = conn.execute("SELECT count(*) FROM chat_threads WHERE id = 'flux-foreign'").fetchone()[0]
        check("clear_all: other users untouched", n == 1)

        sqlite_import(conn, st)
        postgres_import(conn, st)

    print(f"flux_rag: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
