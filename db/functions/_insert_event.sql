-- _insert_event validates and stores an inbound event, deduplicating by key:
-- when p_dedup_key is set and an event of the same type with the same key
-- was stored within the dedup window, nothing is stored and that first
-- event is returned with created = false. The window is the longest
-- dedup_window_seconds of the enabled triggers of the type (24 hours when
-- there is none; at least 24 hours for Baton's own run-end events, source
-- 'baton'). Concurrent inserts of one key are serialized by an
-- advisory lock, so exactly one of them creates the event.
--
-- p_type must match ^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$, p_payload be a
-- JSON object of at most 1 MB nested at most 64 levels, p_dedup_key at most
-- 200 characters and p_source at most 100; anything else raises 22023
-- naming the field.
CREATE OR REPLACE FUNCTION baton._insert_event(p_type text, p_payload jsonb, p_dedup_key text, p_source text,
                                               OUT id bigint, OUT "time" timestamptz, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    win integer;
BEGIN
    IF p_type IS NULL OR p_type !~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$' THEN
        RAISE EXCEPTION 'baton: type: must match ^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$, got %', coalesce(quote_literal(left(p_type, 210)), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF p_payload IS NULL THEN
        p_payload := '{}';
    END IF;
    PERFORM baton._check_json(p_payload, 'payload');
    IF p_dedup_key IS NOT NULL AND (length(p_dedup_key) NOT BETWEEN 1 AND 200) THEN
        RAISE EXCEPTION 'baton: dedup_key: must be 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    IF p_source IS NULL OR length(p_source) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'baton: source: must be 1 to 100 characters' USING ERRCODE = '22023';
    END IF;

    IF p_dedup_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('baton.events'), hashtext(p_type || E'\x1f' || p_dedup_key));
        SELECT coalesce(max(t.dedup_window_seconds), 86400) INTO win
        FROM baton.triggers t WHERE t.event_type = p_type AND t.enabled;
        IF p_source = 'baton' THEN
            -- Run-end events are keyed by their task event: never twice.
            win := greatest(win, 86400);
        END IF;
        SELECT e.id, e.time INTO id, "time"
        FROM baton.events e
        WHERE e.type = p_type AND e.dedup_key = p_dedup_key AND e.time >= now() - make_interval(secs => win)
        ORDER BY e.time, e.id
        LIMIT 1;
        IF FOUND THEN
            created := false;
            RETURN;
        END IF;
    END IF;

    INSERT INTO baton.events (type, source, dedup_key, payload)
    VALUES (p_type, p_source, p_dedup_key, p_payload)
    RETURNING events.id, events.time INTO id, "time";
    created := true;
END
$$;
