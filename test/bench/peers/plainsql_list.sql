-- Peer "plainsql" for W5: a page of a user's threads, newest first, served
-- by chat_threads_user_recent_idx (user_id, updated_at DESC, id DESC).
SELECT * FROM chat_threads
WHERE user_id = :uid AND NOT archived
ORDER BY updated_at DESC, id DESC
LIMIT 20;
