-- Not a peer but the storage floor of W1: the least work any implementation
-- of "save these 10 messages into this thread" must do in the mandated
-- schema (same table, same indexes, same constraints and FK).  One prepared
-- statement: the thread row is updated (which locks it and hands out the
-- seqs) and the 10 rows are inserted from constants -- no JSON is parsed (the
-- values, jsonb included, are folded into the plan when it is prepared), no
-- id is looked up, nothing is validated, the thread must exist.  Whatever an
-- implementation does beyond this is its overhead; tps(floor) / tps(peer) is
-- the highest ratio any implementation could reach against that peer.
-- run.sh fills in :tid (the thread), @UNIQ@ (an id prefix unique per
-- transaction) and @VALUES@ (the 10 messages of the W1 batch as
-- (k, role, content, model, metadata, usage, token_count) rows).
WITH th AS (
  UPDATE chat_threads
  SET message_count = message_count + 10, last_seq = last_seq + 10,
      prompt_tokens = prompt_tokens + 600, completion_tokens = completion_tokens + 400,
      total_tokens = total_tokens + 1000,
      last_message_at = GREATEST(last_message_at, now())
  WHERE id = :tid
  RETURNING last_seq
)
INSERT INTO chat_messages (thread_id, id, seq, role, content, model, metadata, usage, token_count)
SELECT :tid, @UNIQ@ || v.k::text, th.last_seq - 10 + v.k, v.r, v.c, v.mo, v.md, v.us, v.tc
FROM th, (VALUES @VALUES@) AS v(k, r, c, mo, md, us, tc);
