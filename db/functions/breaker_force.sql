-- breaker_force forces breaker p_key open (it stays open, letting no probe
-- through, until forced closed) or closed (its window starts empty), logs
-- the change with p_actor, and returns the breaker. It raises P0002 when the
-- breaker does not exist.
CREATE OR REPLACE FUNCTION baton.breaker_force(p_key text, p_open boolean, p_actor text, p_now timestamptz DEFAULT NULL)
RETURNS SETOF baton.circuit_breakers
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, now());
    b     baton.circuit_breakers;
BEGIN
    UPDATE baton.circuit_breakers c
    SET state = CASE WHEN p_open THEN 'open' ELSE 'closed' END,
        forced = p_open,
        recent = CASE WHEN p_open THEN c.recent ELSE '{}' END,
        opened_at = CASE WHEN NOT p_open THEN NULL
                         WHEN c.state = 'closed' THEN v_now
                         ELSE coalesce(c.opened_at, v_now) END,
        half_open_at = NULL, probe_id = NULL, probe_expires_at = NULL, updated_at = v_now
    WHERE c.key = p_key
    RETURNING * INTO b;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: circuit breaker "%" not found', p_key USING ERRCODE = 'P0002';
    END IF;
    PERFORM baton._breaker_event(p_key, CASE WHEN p_open THEN 'breaker_forced_open' ELSE 'breaker_forced_closed' END,
                                 b.recent, p_actor);
    RETURN NEXT b;
END
$$;
