-- breaker_acquire decides whether an attempt guarded by breaker p_key may
-- run now, creating the breaker (closed) on first use. On a closed breaker
-- it is one primary-key read. When the attempt is the half-open probe,
-- probe is true and probe_id identifies it for breaker_record. When it is
-- refused, retry_at says when to ask again. p_now NULL means now().
CREATE OR REPLACE FUNCTION baton.breaker_acquire(p_key text, p_failure_rate float8, p_window integer, p_cooldown_ms bigint,
                                      p_probe_lease_ms bigint, p_now timestamptz,
                                      OUT allowed boolean, OUT probe boolean, OUT retry_at timestamptz,
                                      OUT probe_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    b     baton.circuit_breakers;
BEGIN
    allowed := false;
    probe := false;

    SELECT * INTO b FROM baton.circuit_breakers c WHERE c.key = p_key;
    IF NOT FOUND THEN
        INSERT INTO baton.circuit_breakers (key, failure_rate, window_size, cooldown_ms, created_at, updated_at)
        VALUES (p_key, p_failure_rate, p_window, p_cooldown_ms, v_now, v_now)
        ON CONFLICT (key) DO NOTHING;
        allowed := true;
        RETURN;
    END IF;
    IF b.state = 'closed' THEN
        allowed := true;
        RETURN;
    END IF;
    retry_at := baton._breaker_retry_at(b, v_now, p_cooldown_ms);
    IF retry_at IS NOT NULL THEN
        RETURN;
    END IF;

    -- A probe is due: decide again on the locked row, so that of all the
    -- nodes asking at once exactly one gets it.
    SELECT * INTO b FROM baton.circuit_breakers c WHERE c.key = p_key FOR UPDATE;
    IF b.state = 'closed' THEN
        allowed := true;
        RETURN;
    END IF;
    retry_at := baton._breaker_retry_at(b, v_now, p_cooldown_ms);
    IF retry_at IS NOT NULL THEN
        RETURN;
    END IF;

    UPDATE baton.circuit_breakers c
    SET state = 'half_open', half_open_at = CASE WHEN c.state = 'open' THEN v_now ELSE c.half_open_at END,
        probe_id = nextval('baton.circuit_breaker_probe_seq'),
        probe_expires_at = v_now + p_probe_lease_ms * interval '1 millisecond',
        failure_rate = p_failure_rate, window_size = p_window, cooldown_ms = p_cooldown_ms, updated_at = v_now
    WHERE c.key = p_key
    RETURNING c.probe_id INTO breaker_acquire.probe_id;
    PERFORM baton._breaker_event(p_key, 'breaker_half_open', b.recent, NULL,
                                 jsonb_build_object('probe_lease_expired', b.state = 'half_open'));
    allowed := true;
    probe := true;
END
$$;
