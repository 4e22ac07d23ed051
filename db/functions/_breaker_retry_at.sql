-- _breaker_retry_at returns when an attempt refused by a breaker that is not
-- closed should ask again, or NULL when a probe may go now: a forced breaker
-- is asked again after a cooldown, an open one when it half-opens, a
-- half-open one whose probe is in flight after min(cooldown, 1s).
CREATE OR REPLACE FUNCTION baton._breaker_retry_at(b baton.circuit_breakers, p_now timestamptz, p_cooldown_ms bigint)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN b.forced THEN p_now + p_cooldown_ms * interval '1 millisecond'
        WHEN b.state = 'open' AND p_now < b.half_open_at THEN b.half_open_at
        WHEN b.state = 'half_open' AND p_now < b.probe_expires_at
            THEN p_now + least(p_cooldown_ms, 1000) * interval '1 millisecond'
    END;
$$;
