-- Peer "plainsql" for W3: the latest 50 messages of a thread, oldest first:
-- one backward range scan of chat_messages_thread_seq_key (thread_id, seq),
-- re-ordered ascending.  :tid is the thread id (run.sh fills it in).
SELECT * FROM (
  SELECT * FROM chat_messages WHERE thread_id = :tid ORDER BY seq DESC LIMIT 50
) s ORDER BY seq;
