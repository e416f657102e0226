-- seed systems: key-value store and ordered lists (cipher)
\pset null '(null)'


-- ---------------------------------------------------------------- key-value
SELECT key, value, expires_at IS NULL AS no_expiry, created_at = updated_at AS fresh
FROM chat_kv_set('seedkv:a', '{"n": 1}');
SELECT chat_kv_get('seedkv:a');
-- upsert replaces the value, keeps created_at, moves updated_at
SELECT pg_sleep(0.01);
SELECT key, value, created_at < updated_at AS updated FROM chat_kv_set('seedkv:a', '[1, 2]');
SELECT chat_kv_get('seedkv:a');
-- any JSON value; a stored JSON null is not a missing key
SELECT key, value FROM chat_kv_set('seedkv:null', 'null');
SELECT chat_kv_get('seedkv:null') AS stored_null, chat_kv_get('seedkv:null') IS NULL AS sql_null,
       chat_kv_get('seedkv:missing') IS NULL AS missing;
SELECT value FROM chat_kv_set('seedkv:str', '"text"');
SELECT value FROM chat_kv_set('seedkv:num', '3.5');

-- prefix listing: % and _ are literal
SELECT value IS NOT NULL FROM chat_kv_set('seedkv:p%x', '1');
SELECT value IS NOT NULL FROM chat_kv_set('seedkv:p_y', '2');
SELECT value IS NOT NULL FROM chat_kv_set('seedkv:pzz', '3');
SELECT value IS NOT NULL FROM chat_kv_set('seedkv:p%x:sub', '4');
SELECT key, value FROM chat_kv_list('seedkv:p%');
SELECT key, value FROM chat_kv_list('seedkv:p_');
SELECT key FROM chat_kv_list('seedkv:p');
SELECT key FROM chat_kv_list('seedkv:');
-- limit and keyset paging
SELECT key FROM chat_kv_list('seedkv:p', 2);
SELECT key FROM chat_kv_list('seedkv:p', 2, 'seedkv:p_y');
SELECT count(*) FROM chat_kv_list('seedkv:nothing-here');

-- expiry: an expired key is invisible to get and list, and set again is new
SELECT key, expires_at = now() + interval '1 minute' AS expires_later FROM chat_kv_set('seedkv:ttl', '"soon"', '1 minute');
SELECT key, expires_at > now() + interval '50 minutes' AS in_an_hour FROM chat_kv_set('seedkv:ttl2', '"later"', '1 hour');
SELECT chat_kv_get('seedkv:ttl') AS before_expiry;
-- let it expire (backdated rather than slept, so the test cannot be flaky)
UPDATE chat_kv SET expires_at = now() - interval '1 second' WHERE key = 'seedkv:ttl';
SELECT chat_kv_get('seedkv:ttl') IS NULL AS expired_get;
SELECT key FROM chat_kv_list('seedkv:ttl');
-- the expired row still exists until purged or deleted
SELECT count(*) AS stored FROM chat_kv WHERE key = 'seedkv:ttl';
-- setting without ttl makes a key permanent again
SELECT key, value, expires_at IS NULL AS permanent FROM chat_kv_set('seedkv:ttl2', '"forever"');
-- an expired key set again counts as new (created_at reset)
SELECT key, value, created_at = updated_at AS fresh, expires_at IS NULL AS permanent
FROM chat_kv_set('seedkv:ttl', '"again"');

-- delete: true for a live key, false for missing; an expired key is removed, false
SELECT chat_kv_delete('seedkv:a') AS deleted;
SELECT chat_kv_get('seedkv:a') IS NULL AS gone;
SELECT chat_kv_delete('seedkv:a') AS again;
SELECT value IS NOT NULL FROM chat_kv_set('seedkv:exp', '1', '1 hour');
UPDATE chat_kv SET expires_at = now() - interval '1 second' WHERE key = 'seedkv:exp';
SELECT chat_kv_delete('seedkv:exp') AS live_deleted;
SELECT count(*) AS stored FROM chat_kv WHERE key = 'seedkv:exp';

-- tenants: keys live in the current tenant only
SET chatstore.tenant = 'seed-tenant-a';
SELECT chat_kv_get('seedkv:str') IS NULL AS invisible;
SELECT key, value FROM chat_kv_set('seedkv:str', '"tenant a"');
SELECT key FROM chat_kv_list('seedkv:');
RESET chatstore.tenant;
SELECT chat_kv_get('seedkv:str') AS no_tenant_value;
SELECT tenant, key, value FROM chat_kv WHERE key = 'seedkv:str' ORDER BY tenant;

-- errors
SELECT regress.try($$SELECT chat_kv_set(NULL, '1')$$);
SELECT regress.try($$SELECT chat_kv_set('', '1')$$);
SELECT regress.try($$SELECT chat_kv_set(repeat('k', 1025), '1')$$);
SELECT regress.try($$SELECT chat_kv_set('seedkv:x', NULL)$$);
SELECT regress.try($$SELECT chat_kv_set('seedkv:x', '1', '0 seconds')$$);
SELECT regress.try($$SELECT chat_kv_set('seedkv:x', '1', '-1 hour')$$);
SELECT regress.try($$SELECT * FROM chat_kv_list('seedkv:', 0)$$);
SELECT count(*) AS nothing_written FROM chat_kv WHERE key = 'seedkv:x';

-- ---------------------------------------------------------------- lists
SELECT chat_kvlist_length('seedl:missing') AS missing_length;
SELECT count(*) FROM chat_kvlist_range('seedl:missing');
SELECT chat_kvlist_append('seedl:a', '"one"') AS len;
SELECT chat_kvlist_append_many('seedl:a', '["two", {"three": 3}, [4], null]') AS len;
SELECT chat_kvlist_append('seedl:a', '[5, 6]') AS len_single_array_value;
SELECT chat_kvlist_length('seedl:a');
SELECT count(*) AS same_stamp_per_call FROM chat_kvlist_range('seedl:a') AS r GROUP BY r.created_at ORDER BY 1;
SELECT idx, value FROM chat_kvlist_range('seedl:a');
-- Redis LRANGE semantics
SELECT idx, value FROM chat_kvlist_range('seedl:a', 1, 2);
SELECT idx, value FROM chat_kvlist_range('seedl:a', -2, -1);
SELECT idx, value FROM chat_kvlist_range('seedl:a', -100, 0);
SELECT idx, value FROM chat_kvlist_range('seedl:a', 4, 100);
SELECT count(*) AS empty FROM chat_kvlist_range('seedl:a', 3, 2);
SELECT count(*) AS empty FROM chat_kvlist_range('seedl:a', 6, 10);
SELECT count(*) AS empty FROM chat_kvlist_range('seedl:a', -1, -2);
-- empty array: no-op, returns the length
SELECT chat_kvlist_append_many('seedl:a', '[]') AS len;
-- (the call and the count are two statements: one that reads a chat table
-- and calls a chatstore function would run the function on a Citus worker,
-- which refuses its queries; README.md#scaling-out)
SELECT chat_kvlist_append_many('seedl:empty', '[]') AS len \gset
SELECT :len AS len, count(*) AS created FROM chat_lists WHERE key = 'seedl:empty';

-- trim keeps start..stop; indexes restart at 0; appends continue after it
SELECT chat_kvlist_trim('seedl:a', 1, -2) AS len;
SELECT idx, value FROM chat_kvlist_range('seedl:a');
SELECT chat_kvlist_append('seedl:a', '"seven"') AS len;
SELECT idx, value FROM chat_kvlist_range('seedl:a', -2);
SELECT chat_kvlist_trim('seedl:a', -3, -1) AS len;
SELECT idx, value FROM chat_kvlist_range('seedl:a');
SELECT chat_kvlist_trim('seedl:a', 0, 100) AS len_unchanged;
-- trim to nothing keeps an empty list
SELECT chat_kvlist_trim('seedl:a', 5, 1) AS len;
SELECT chat_kvlist_length('seedl:a') AS len \gset
SELECT :len AS len, count(*) AS items FROM chat_list_items WHERE key = 'seedl:a';
SELECT chat_kvlist_append('seedl:a', '"fresh"') AS len;
SELECT idx, value FROM chat_kvlist_range('seedl:a');
SELECT chat_kvlist_trim('seedl:missing', 0, 1) AS missing_trim;

-- metadata: merged on append, read with chat_kvlist_info
SELECT chat_kvlist_append('seedl:m', '1', '{"owner": "x", "kind": "log"}');
SELECT chat_kvlist_append_many('seedl:m', '[2, 3]', '{"kind": "events"}');
SELECT length, metadata, created_at <= updated_at AS ts_ok FROM chat_kvlist_info('seedl:m');
SELECT count(*) FROM chat_kvlist_info('seedl:missing');

-- delete
SELECT chat_kvlist_delete('seedl:m') AS deleted, chat_kvlist_delete('seedl:m') AS again;
SELECT chat_kvlist_length('seedl:m') AS len \gset
SELECT :len AS len, count(*) AS items FROM chat_list_items WHERE key = 'seedl:m';

-- tenants
SET chatstore.tenant = 'seed-tenant-a';
SELECT chat_kvlist_length('seedl:a') AS other_tenant_len;
SELECT chat_kvlist_append('seedl:a', '"a-only"') AS len;
RESET chatstore.tenant;
SELECT idx, value FROM chat_kvlist_range('seedl:a');

-- errors
SELECT regress.try($$SELECT chat_kvlist_append(NULL, '1')$$);
SELECT regress.try($$SELECT chat_kvlist_append('', '1')$$);
SELECT regress.try($$SELECT chat_kvlist_append(repeat('k', 1025), '1')$$);
SELECT regress.try($$SELECT chat_kvlist_append('seedl:e', NULL)$$);
SELECT regress.try($$SELECT chat_kvlist_append_many('seedl:e', '{"a": 1}')$$);
SELECT regress.try($$SELECT chat_kvlist_append_many('seedl:e', NULL)$$);
SELECT regress.try($$SELECT chat_kvlist_append_many('seedl:e', '[1]', '[]')$$);
SELECT regress.try($$SELECT chat_kvlist_trim('seedl:a', NULL, 1)$$);
SELECT count(*) AS nothing_written FROM chat_lists WHERE key = 'seedl:e';
