-- breaker_record records the outcome of an attempt that breaker_acquire let
-- through and returns the kind of the transition it caused (breaker_opened,
-- breaker_closed), or NULL. A probe's outcome (p_probe_id set) closes the
-- breaker or opens it again, unless the probe is stale (its lease ran out
-- and another probe went, or an operator forced the breaker). Other
-- outcomes count only while the breaker is closed; on a closed breaker this
-- is one update of its row.
CREATE OR REPLACE FUNCTION baton.breaker_record(p_key text, p_failure_rate float8, p_window integer, p_cooldown_ms bigint,
                                     p_probe_id bigint, p_failed boolean, p_now timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_now   timestamptz := coalesce(p_now, now());
    v_until timestamptz := coalesce(p_now, now()) + p_cooldown_ms * interval '1 millisecond';
    v_kind  text;
    b       baton.circuit_breakers;
BEGIN
    IF p_probe_id IS NOT NULL THEN
        UPDATE baton.circuit_breakers c
        SET state = CASE WHEN p_failed THEN 'open' ELSE 'closed' END,
            recent = CASE WHEN p_failed THEN c.recent ELSE '{}' END,
            opened_at = CASE WHEN p_failed THEN v_now END,
            half_open_at = CASE WHEN p_failed THEN v_until END,
            probe_id = NULL, probe_expires_at = NULL,
            failure_rate = p_failure_rate, window_size = p_window, cooldown_ms = p_cooldown_ms, updated_at = v_now
        WHERE c.key = p_key AND c.state = 'half_open' AND c.probe_id = p_probe_id
        RETURNING * INTO b;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        v_kind := CASE WHEN p_failed THEN 'breaker_opened' ELSE 'breaker_closed' END;
        PERFORM baton._breaker_event(p_key, v_kind, b.recent, NULL, jsonb_build_object('probe', true));
        RETURN v_kind;
    END IF;

    UPDATE baton.circuit_breakers c
    SET recent = baton._breaker_push(c.recent, p_failed, p_window),
        failure_rate = p_failure_rate, window_size = p_window, cooldown_ms = p_cooldown_ms, updated_at = v_now
    WHERE c.key = p_key AND c.state = 'closed'
    RETURNING * INTO b;
    IF NOT FOUND OR NOT baton._breaker_trips(b.recent, p_failure_rate, p_window) THEN
        RETURN NULL;
    END IF;

    -- The row is locked by the update above.
    UPDATE baton.circuit_breakers c
    SET state = 'open', opened_at = v_now, half_open_at = v_until
    WHERE c.key = p_key;
    PERFORM baton._breaker_event(p_key, 'breaker_opened', b.recent);
    RETURN 'breaker_opened';
END
$$;
