-- _breaker_event logs a breaker transition and notifies baton_events.
CREATE OR REPLACE FUNCTION baton._breaker_event(p_key text, p_kind text, p_recent boolean[], p_actor text DEFAULT NULL,
                                     p_data jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO baton.task_events (kind, actor, data)
    VALUES (p_kind, p_actor,
            jsonb_build_object('key', p_key, 'error_rate', baton._breaker_error_rate(p_recent)) || p_data);
    SELECT pg_notify('baton_events', json_build_object('kind', p_kind, 'breaker', p_key)::text);
$$;
