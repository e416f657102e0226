-- seed systems: agent state store (Forge AI SDK) and chat_delete_user_data
\pset null '(null)'


-- ---------------------------------------------------------------- agent state
-- not found: no row (distinct from an empty state)
SELECT count(*) AS rows FROM chat_agent_state_load('seeda-agent', 's1');
SELECT chat_agent_state_save('seeda-agent', 's1', '{}') AS version;
SELECT agent_id, session_id, state, version, created_at = updated_at AS fresh
FROM chat_agent_state_load('seeda-agent', 's1');
-- unconditional saves bump the version
SELECT chat_agent_state_save('seeda-agent', 's1', '{"step": 1}') AS version;
SELECT chat_agent_state_save('seeda-agent', 's1', '{"step": 2}') AS version;
SELECT state, version FROM chat_agent_state_load('seeda-agent', 's1');
-- optimistic: the right expected version wins
SELECT chat_agent_state_save('seeda-agent', 's1', '{"step": 3}', 3) AS version;
-- a stale one fails with 40001 and says who won; nothing is written
SELECT regress.try($$SELECT chat_agent_state_save('seeda-agent', 's1', '{"step": "stale"}', 3)$$);
SELECT regress.try($$SELECT chat_agent_state_save('seeda-agent', 's1', '{"step": "future"}', 9)$$);
SELECT state, version FROM chat_agent_state_load('seeda-agent', 's1');
-- expected 0 = create only
SELECT chat_agent_state_save('seeda-agent', 's2', '{"fresh": true}', 0) AS version;
SELECT regress.try($$SELECT chat_agent_state_save('seeda-agent', 's2', '{"dup": true}', 0)$$);
-- expected N > 0 for a missing state
SELECT regress.try($$SELECT chat_agent_state_save('seeda-agent', 's-none', '{}', 1)$$);
SELECT count(*) AS not_created FROM chat_agent_state_load('seeda-agent', 's-none');
-- any JSON state
SELECT chat_agent_state_save('seeda-agent', 's3', '[1, 2, 3]') AS version;
SELECT chat_agent_state_save('seeda-agent', 's4', '"just text"') AS version;

-- list: newest first, limit, keyset, state filter; count
UPDATE chat_agent_states SET updated_at = '2026-05-01T00:00:00Z' WHERE agent_id = 'seeda-agent' AND session_id = 's1';
UPDATE chat_agent_states SET updated_at = '2026-05-03T00:00:00Z' WHERE agent_id = 'seeda-agent' AND session_id = 's2';
UPDATE chat_agent_states SET updated_at = '2026-05-02T00:00:00Z' WHERE agent_id = 'seeda-agent' AND session_id IN ('s3', 's4');
SELECT session_id, state, version FROM chat_agent_state_list('seeda-agent');
SELECT session_id FROM chat_agent_state_list('seeda-agent', 2);
SELECT session_id FROM chat_agent_state_list('seeda-agent', 10, '2026-05-02T00:00:00Z', 's4');
SELECT session_id FROM chat_agent_state_list('seeda-agent', state_filter => '{"fresh": true}');
SELECT count(*) FROM chat_agent_state_list('seeda-nobody');
SELECT chat_agent_state_count('seeda-agent') AS n, chat_agent_state_count('seeda-nobody') AS none;
-- count_all: every agent's states of the current tenant (Forge's Count())
CREATE TEMP TABLE seeda_count AS SELECT chat_agent_state_count_all() AS before;
SELECT chat_agent_state_save('seeda-other', 'o1', '{}') AS version;
SELECT chat_agent_state_save('seeda-other2', 'o1', '{}') AS version;
SELECT chat_agent_state_count_all() - before AS added_over_agents FROM seeda_count;
SELECT chat_agent_state_delete('seeda-other', 'o1') AND chat_agent_state_delete('seeda-other2', 'o1') AS cleaned;
SELECT chat_agent_state_count_all() - before AS after_delete FROM seeda_count;
-- GIN index on state is there
SELECT indexdef LIKE '%USING gin (state jsonb_path_ops)%' AS gin
FROM pg_indexes WHERE indexname = 'chat_agent_states_state_idx';

-- delete
SELECT chat_agent_state_delete('seeda-agent', 's4') AS deleted;
SELECT chat_agent_state_delete('seeda-agent', 's4') AS again;
SELECT chat_agent_state_count('seeda-agent') AS n;
-- after a delete, expected 0 creates again (version restarts at 1)
SELECT chat_agent_state_save('seeda-agent', 's4', '{}', 0) AS version;

-- tenants: separate namespaces
SET chatstore.tenant = 'seed-tenant-a';
SELECT count(*) AS other_tenant FROM chat_agent_state_load('seeda-agent', 's1');
SELECT chat_agent_state_save('seeda-agent', 's1', '{"tenant": "a"}') AS version;
SELECT chat_agent_state_count('seeda-agent') AS n;
SELECT chat_agent_state_count_all() AS tenant_a_all;
RESET chatstore.tenant;
SELECT state, version FROM chat_agent_state_load('seeda-agent', 's1');

-- errors
SELECT regress.try($$SELECT chat_agent_state_save(NULL, 's', '{}')$$);
SELECT regress.try($$SELECT chat_agent_state_save('a', '', '{}')$$);
SELECT regress.try($$SELECT chat_agent_state_save('a', 's', NULL)$$);
SELECT regress.try($$SELECT chat_agent_state_save('a', 's', '{}', -1)$$);
SELECT regress.try($$SELECT chat_agent_state_save(repeat('a', 513), 's', '{}')$$);
SELECT count(*) AS nothing_written FROM chat_agent_states WHERE agent_id = 'a';

-- ---------------------------------------------------------------- delete user data
SELECT saved_count FROM chat_save_messages('seedu-t1', '[{"id": "1", "role": "user", "content": "x"},
  {"id": "2", "role": "assistant", "content": "y"}]', 'seedu-gone');
SELECT saved_count FROM chat_save_messages('seedu-t2', '[{"id": "1", "role": "user", "content": "z"}]', 'seedu-gone');
SELECT saved_count FROM chat_save_messages('seedu-keep', '[{"id": "1", "role": "user", "content": "k"}]', 'seedu-stays');
SELECT active_thread_id FROM chat_set_preferences('seedu-gone', 'seedu-t1', 'm');
SELECT active_thread_id FROM chat_set_preferences('seedu-stays', 'seedu-keep', 'm');
SELECT chat_delete_user_data('seedu-gone');
SELECT count(*) AS threads FROM chat_threads WHERE user_id = 'seedu-gone';
SELECT count(*) AS messages FROM chat_messages WHERE thread_id IN ('seedu-t1', 'seedu-t2');
SELECT count(*) AS prefs FROM chat_get_preferences('seedu-gone');
-- the other user is untouched
SELECT message_count FROM chat_threads WHERE id = 'seedu-keep';
SELECT active_thread_id FROM chat_get_preferences('seedu-stays');
-- again: nothing left
SELECT chat_delete_user_data('seedu-gone');
SELECT regress.try($$SELECT chat_delete_user_data(NULL)$$);
SELECT regress.try($$SELECT chat_delete_user_data('')$$);
