-- chatstore -- part 00: core schema (threads, messages, their indexes)
--
-- This file is one part of chatstore--<version>.sql, which the Makefile builds by
-- concatenating src/sql/*.sql in name order.  Every object reference is
-- schema-qualified: @extschema@ for ours, pg_catalog for built-ins.

\echo Use "CREATE EXTENSION chatstore" to load this file. \quit

-- ---------------------------------------------------------------------------
-- threads
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_threads (
    id                text        NOT NULL DEFAULT pg_catalog.gen_random_uuid()::pg_catalog.text,
    user_id           text,
    title             text        NOT NULL DEFAULT '',
    metadata          jsonb       NOT NULL DEFAULT '{}',
    state             jsonb       NOT NULL DEFAULT '{}',
    message_count     bigint      NOT NULL DEFAULT 0,
    last_seq          bigint      NOT NULL DEFAULT 0,
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    total_tokens      bigint      NOT NULL DEFAULT 0,
    last_message_at   timestamptz,
    archived          boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- last, as ALTER TABLE ADD COLUMN puts them in a database updated from 1.2
    tombstone_count   bigint      NOT NULL DEFAULT 0,
    -- NULL: the thread is one line (every message's parent is the one before
    -- it); else the seqs of the active path of its message tree
    active_path       int8multirange,
    CONSTRAINT chat_threads_pkey PRIMARY KEY (id),
    CONSTRAINT chat_threads_id_check
        CHECK (id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_threads_user_id_check
        CHECK (pg_catalog.octet_length(user_id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_threads_metadata_check
        CHECK (pg_catalog.jsonb_typeof(metadata) OPERATOR(pg_catalog.=) 'object'),
    CONSTRAINT chat_threads_state_check
        CHECK (pg_catalog.jsonb_typeof(state) OPERATOR(pg_catalog.=) 'object')
);

COMMENT ON TABLE @extschema@.chat_threads IS
    'chatstore: one row per conversation; aggregates are maintained by chat_save_messages';

-- a user's threads, newest first (keyset: updated_at, id)
CREATE INDEX chat_threads_user_recent_idx
    ON @extschema@.chat_threads (user_id, updated_at DESC, id DESC);
-- retention: threads idle longer than an interval
CREATE INDEX chat_threads_updated_at_idx
    ON @extschema@.chat_threads (updated_at);
CREATE INDEX chat_threads_metadata_idx
    ON @extschema@.chat_threads USING gin (metadata jsonb_path_ops);
CREATE INDEX chat_threads_state_idx
    ON @extschema@.chat_threads USING gin (state jsonb_path_ops);

-- ---------------------------------------------------------------------------
-- messages
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_messages (
    thread_id    text        NOT NULL,
    id           text        NOT NULL,
    seq          bigint      NOT NULL,
    role         text        NOT NULL,
    content      text,
    parts        jsonb,
    name         text,
    model        text,
    tool_calls   jsonb,
    tool_call_id text,
    metadata     jsonb       NOT NULL DEFAULT '{}',
    usage        jsonb,
    token_count  integer,
    parent_id    text,
    user_id      text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    fingerprint  bigint,
    -- last, as ALTER TABLE ADD COLUMN puts it in a database updated from 1.1
    fingerprint_version smallint,
    -- 1.3: the message tree (the parent's seq; NULL in a one-line thread,
    -- where the parent is the message before) and in-place edits
    parent_seq   bigint,
    edited_at    timestamptz,
    -- 1.4: Responses items and streamed messages
    item          jsonb,
    status        text,
    finish_reason text,
    -- 1.7: the thread's user_id, written with the row (tenant isolation
    -- keys the row on it without looking up the thread)
    thread_user_id text,
    CONSTRAINT chat_messages_pkey PRIMARY KEY (thread_id, id),
    CONSTRAINT chat_messages_thread_seq_key UNIQUE (thread_id, seq),
    CONSTRAINT chat_messages_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE,
    CONSTRAINT chat_messages_id_check
        CHECK (id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_messages_seq_check CHECK (seq OPERATOR(pg_catalog.>=) 1),
    CONSTRAINT chat_messages_role_check
        CHECK (role OPERATOR(pg_catalog.=) ANY (ARRAY['user', 'assistant', 'system', 'developer', 'tool', 'function']::pg_catalog.text[])),
    CONSTRAINT chat_messages_token_count_check CHECK (token_count OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT chat_messages_metadata_check
        CHECK (pg_catalog.jsonb_typeof(metadata) OPERATOR(pg_catalog.=) 'object')
);

-- 1.4's checks, NOT VALID as the update from 1.3 adds them: it adds their
-- columns (NULL in every row, which passes) and must not scan chat_messages
-- under its exclusive lock to prove it.  They hold for every row written.
ALTER TABLE @extschema@.chat_messages
    ADD CONSTRAINT chat_messages_item_check
        CHECK (pg_catalog.jsonb_typeof(item) OPERATOR(pg_catalog.=) 'object') NOT VALID,
    ADD CONSTRAINT chat_messages_status_check
        CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['in_progress', 'completed', 'incomplete', 'failed']::pg_catalog.text[])) NOT VALID,
    ADD CONSTRAINT chat_messages_finish_reason_check
        CHECK (pg_catalog.octet_length(finish_reason) OPERATOR(pg_catalog.<=) 64) NOT VALID;

COMMENT ON TABLE @extschema@.chat_messages IS
    'chatstore: one row per message; seq is gapless per thread and decides the order';
COMMENT ON COLUMN @extschema@.chat_messages.fingerprint IS
    'chatstore internal: digest of role, content (or parts), name, tool_call_id and tool_calls, used to align id-less re-sends';
COMMENT ON COLUMN @extschema@.chat_messages.fingerprint_version IS
    'chatstore internal: how fingerprint was computed: 2 = _chat_fingerprint (SHA-256 based, stable); NULL = a row written by chatstore 1.0 or 1.1, whose fingerprint is recomputed when needed';
COMMENT ON COLUMN @extschema@.chat_messages.parent_seq IS
    'chatstore: the seq of the parent message in a branched thread (NULL for a root, and in a thread that never branched, where the parent is the message before)';
COMMENT ON COLUMN @extschema@.chat_messages.thread_user_id IS
    'chatstore: the user_id of the message''s thread, written with the row (tenant isolation keys the row on it)';
COMMENT ON COLUMN @extschema@.chat_messages.edited_at IS
    'chatstore: when chat_update_message last changed the message in place (NULL: never)';
COMMENT ON COLUMN @extschema@.chat_messages.item IS
    'chatstore: for a message saved as a Responses item, the item without the field kept in content or parts (message content, function_call arguments, function_call_output output) and without the chatstore keys; NULL for a chat message (see _chat_item)';
COMMENT ON COLUMN @extschema@.chat_messages.status IS
    'chatstore: a streamed message''s status (in_progress, completed, incomplete, failed); NULL for a message saved whole';
COMMENT ON COLUMN @extschema@.chat_messages.finish_reason IS
    'chatstore: why the model stopped a streamed message (given to chat_stream_finish)';
COMMENT ON COLUMN @extschema@.chat_threads.active_path IS
    'chatstore: the seqs of the active path of a branched thread, from the root to the active leaf (NULL: the thread never branched and reads as one line)';
COMMENT ON COLUMN @extschema@.chat_threads.tombstone_count IS
    'chatstore internal: the number of the thread''s rows in chat_message_tombstones';

-- history is served by chat_messages_thread_seq_key (thread_id, seq); the
-- children of a message in a branched thread by this (one-line threads have
-- no parent_seq, so their saves do not touch it)
CREATE INDEX chat_messages_parent_idx
    ON @extschema@.chat_messages (thread_id, parent_seq)
    WHERE parent_seq IS NOT NULL;
CREATE INDEX chat_messages_metadata_idx
    ON @extschema@.chat_messages USING gin (metadata jsonb_path_ops);
CREATE INDEX chat_messages_tool_calls_idx
    ON @extschema@.chat_messages USING gin (tool_calls jsonb_path_ops)
    WHERE tool_calls IS NOT NULL;
-- full-text search covers the first 100,000 characters of each message, so a
-- message of any size saves (a tsvector is limited to 1 MB).
CREATE INDEX chat_messages_content_fts_idx
    ON @extschema@.chat_messages
    USING gin (pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,
                                      pg_catalog.left(content, 100000)))
    WHERE content IS NOT NULL;

-- ---------------------------------------------------------------------------
-- tombstones: deleted messages and threads, remembered by id so that a
-- client re-sending its conversation, or a write arriving late, does not
-- bring them back (doc/data-model.md#tombstones)
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_message_tombstones (
    thread_id           text        NOT NULL,
    seq                 bigint      NOT NULL,
    id                  text        NOT NULL,
    fingerprint         bigint,
    deleted_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- the deleted message's parent in a branched thread (as parent_seq)
    parent_seq          bigint,
    -- chat_delete_message moved its replies up to its parent: it is no
    -- longer on their path, but a client may still hold it between them
    replies_moved_up    boolean     NOT NULL DEFAULT false,
    thread_user_id      text,       -- 1.7: the thread's user_id
    CONSTRAINT chat_message_tombstones_pkey PRIMARY KEY (thread_id, seq),
    CONSTRAINT chat_message_tombstones_thread_id_key UNIQUE (thread_id, id),
    CONSTRAINT chat_message_tombstones_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE
);

COMMENT ON TABLE @extschema@.chat_message_tombstones IS
    'chatstore: messages deleted from a thread (by retention), by id and seq: a re-send skips them; purged by chat_retention_purge_tombstones';
COMMENT ON COLUMN @extschema@.chat_message_tombstones.fingerprint IS
    'chatstore internal: the version 2 fingerprint of the deleted message, so an id-less re-send aligns against it';

CREATE INDEX chat_message_tombstones_deleted_at_idx
    ON @extschema@.chat_message_tombstones (deleted_at);

CREATE TABLE @extschema@.chat_thread_tombstones (
    id         text        NOT NULL,
    user_id    text,
    deleted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_thread_tombstones_pkey PRIMARY KEY (id)
);

COMMENT ON TABLE @extschema@.chat_thread_tombstones IS
    'chatstore: deleted threads, by id: a save into one is refused (CS002) until chat_create_thread makes it again; purged by chat_retention_purge_tombstones';

CREATE INDEX chat_thread_tombstones_deleted_at_idx
    ON @extschema@.chat_thread_tombstones (deleted_at);

-- ---------------------------------------------------------------------------
-- 1.4: streaming, compaction, feedback
-- ---------------------------------------------------------------------------
-- The text deltas of messages being streamed (status in_progress), until
-- chat_stream_finish writes the whole text into the message once.  Unlogged:
-- an append writes no WAL but its commit record, so a stream costs about the
-- WAL of saving the finished message, not of rewriting it at every delta.  A
-- crash empties it (the message keeps status in_progress and the text written
-- at start), and standbys do not see it (doc/streaming.md).
CREATE UNLOGGED TABLE @extschema@.chat_stream_deltas (
    thread_id  text   NOT NULL,
    seq        bigint NOT NULL,
    n          integer NOT NULL,
    "offset"   bigint NOT NULL,   -- characters before this delta
    bytes      bigint NOT NULL,   -- bytes before this delta
    delta      text   NOT NULL,
    CONSTRAINT chat_stream_deltas_pkey PRIMARY KEY (thread_id, seq, n)
);
-- No foreign key: its check would lock the message row, which writes WAL at
-- every append.  Rows of a message deleted while it streamed stay until
-- chat_retention_purge_tombstones (a new stream at the same seq clears
-- them first).  Internal: only the stream functions read and write it
-- (applications get no grant on it; tenant isolation has no policy on it).

COMMENT ON TABLE @extschema@.chat_stream_deltas IS
    'chatstore internal: text appended to messages being streamed (unlogged; emptied by chat_stream_finish)';

-- Summaries (or a provider's opaque compaction items) that stand for the
-- messages of a thread up to a seq: chat_context starts from the latest one
-- on the active path.
CREATE TABLE @extschema@.chat_summaries (
    thread_id   text        NOT NULL,
    id          bigint      NOT NULL,   -- 1, 2, ... per thread
    up_to_seq   bigint      NOT NULL,
    summary     jsonb       NOT NULL,
    token_count integer,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    thread_user_id text,            -- 1.7: the thread's user_id
    CONSTRAINT chat_summaries_pkey PRIMARY KEY (thread_id, id),
    CONSTRAINT chat_summaries_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE,
    CONSTRAINT chat_summaries_up_to_seq_check CHECK (up_to_seq OPERATOR(pg_catalog.>=) 1),
    CONSTRAINT chat_summaries_summary_check
        CHECK (pg_catalog.jsonb_typeof(summary) OPERATOR(pg_catalog.=) 'object'),
    CONSTRAINT chat_summaries_token_count_check CHECK (token_count OPERATOR(pg_catalog.>=) 0)
);

COMMENT ON TABLE @extschema@.chat_summaries IS
    'chatstore: summaries or compaction items standing for a thread''s messages up to up_to_seq (chat_compact)';

-- Feedback on messages: one row per message and user.
CREATE TABLE @extschema@.chat_feedback (
    thread_id  text        NOT NULL,
    message_id text        NOT NULL,
    user_id    text        NOT NULL,
    rating     smallint    NOT NULL,
    tag        text,
    comment    text,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    thread_user_id text,           -- 1.7: the thread's user_id (user_id is who rated)
    CONSTRAINT chat_feedback_pkey PRIMARY KEY (thread_id, message_id, user_id),
    CONSTRAINT chat_feedback_thread_fkey FOREIGN KEY (thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE CASCADE,
    CONSTRAINT chat_feedback_message_fkey FOREIGN KEY (thread_id, message_id)
        REFERENCES @extschema@.chat_messages (thread_id, id) ON DELETE CASCADE,
    CONSTRAINT chat_feedback_rating_check
        CHECK (rating OPERATOR(pg_catalog.>=) -10 AND rating OPERATOR(pg_catalog.<=) 10),
    CONSTRAINT chat_feedback_user_id_check
        CHECK (user_id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(user_id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_feedback_tag_check
        CHECK (tag OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(tag) OPERATOR(pg_catalog.<=) 64),
    CONSTRAINT chat_feedback_comment_check
        CHECK (pg_catalog.octet_length(comment) OPERATOR(pg_catalog.<=) 10000)
);

COMMENT ON TABLE @extschema@.chat_feedback IS
    'chatstore: a user''s rating of a message (1 up, -1 down, or -10..10), with an optional tag and comment';

-- a user's feedback, newest first (chat_delete_user_data, analytics)
CREATE INDEX chat_feedback_user_idx
    ON @extschema@.chat_feedback (user_id, updated_at DESC);

-- the result of chat_save_messages
CREATE TYPE @extschema@.chat_save_result AS (
    saved_count   integer,
    skipped_count integer,
    saved_ids     text[],
    first_seq     bigint,
    last_seq      bigint
);

-- updated_at trigger (C): sets NEW.updated_at to the transaction time when
-- an UPDATE changes a row without assigning updated_at itself (an UPDATE
-- that assigns it keeps what it assigned; one that changes nothing leaves it)
CREATE FUNCTION @extschema@.chat_set_updated_at_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'chat_set_updated_at_trigger' LANGUAGE C;

CREATE TRIGGER chat_threads_updated_at
    BEFORE UPDATE ON @extschema@.chat_threads
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_set_updated_at_trigger();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_threads', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_messages', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_message_tombstones', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_thread_tombstones', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_summaries', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_feedback', '');
