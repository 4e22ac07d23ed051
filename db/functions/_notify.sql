-- _notify sends one event notice on channel baton_events. Payloads carry ids
-- only (NOTIFY payloads are limited to 8000 bytes); listeners read the rows.
CREATE OR REPLACE FUNCTION baton._notify(p_run_id bigint, p_kind text, p_task_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('baton_events', json_build_object('run_id', p_run_id, 'task_id', p_task_id, 'kind', p_kind)::text);
$$;
