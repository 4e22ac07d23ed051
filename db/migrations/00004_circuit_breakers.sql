-- Circuit breakers shared by every worker node. One row per breaker key (a
-- task type name, or "type:host" for per-host breakers) holds its state and
-- the outcomes of its last attempts. Every decision is one call of a
-- function below, race-free across nodes:
--
--   closed    attempts run; their outcomes fill a window of the last
--             window_size outcomes. When the window is full and more than
--             failure_rate of it failed, the breaker opens.
--   open      attempts are refused until half_open_at (opened_at + cooldown).
--   half_open the first attempt after the cooldown is the probe; exactly one
--             is let through, with a lease (probe_expires_at) after which,
--             if its worker never reported, another probe may go. A probe
--             that succeeds closes the breaker (the window starts empty),
--             one that fails opens it for another cooldown.
--
-- An operator can force a breaker open (it stays open until forced closed)
-- or closed (the window starts empty). Transitions write a task_events row
-- (run_id NULL, kind breaker_*) and notify baton_events.

-- +goose Up
CREATE SEQUENCE baton.circuit_breaker_probe_seq;

-- circuit_breakers rows are updated by every attempt of their task type:
-- fillfactor leaves room for HOT updates (only the primary key is indexed).
CREATE TABLE baton.circuit_breakers (
    key              text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 400),
    state            text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    -- recent holds the outcomes of the last window_size attempts, oldest
    -- first: true for a failure.
    recent           boolean[] NOT NULL DEFAULT '{}',
    -- The settings last used (a snapshot of the task type's configuration).
    failure_rate     float8 NOT NULL CHECK (failure_rate > 0 AND failure_rate < 1),
    window_size      integer NOT NULL CHECK (window_size BETWEEN 1 AND 1000),
    cooldown_ms      bigint NOT NULL CHECK (cooldown_ms > 0),
    -- forced is true while an operator holds the breaker open.
    forced           boolean NOT NULL DEFAULT false,
    opened_at        timestamptz,
    -- half_open_at is when an open breaker lets a probe through, or when a
    -- half-open one did; NULL when closed or forced open.
    half_open_at     timestamptz,
    probe_id         bigint,
    probe_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

-- _breaker_failures counts the failures among outcomes.
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_failures(p_recent boolean[])
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(cardinality(array_positions(p_recent, true)), 0);
$$;
-- +goose StatementEnd

-- _breaker_error_rate is the share of failures among outcomes (0 without any).
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_error_rate(p_recent boolean[])
RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(cardinality(p_recent), 0) = 0 THEN 0
                ELSE baton._breaker_failures(p_recent)::float8 / cardinality(p_recent) END;
$$;
-- +goose StatementEnd

-- _breaker_push appends an outcome and keeps the last p_window ones.
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_push(p_recent boolean[], p_failed boolean, p_window integer)
RETURNS boolean[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_recent || p_failed)[greatest(1, cardinality(p_recent) + 2 - p_window):];
$$;
-- +goose StatementEnd

-- _breaker_trips reports whether a full window holds more than p_failure_rate failures.
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_trips(p_recent boolean[], p_failure_rate float8, p_window integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT cardinality(p_recent) >= p_window
       AND baton._breaker_failures(p_recent)::numeric > p_failure_rate::numeric * p_window;
$$;
-- +goose StatementEnd

-- _breaker_event logs a breaker transition and notifies baton_events.
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_event(p_key text, p_kind text, p_recent boolean[], p_actor text DEFAULT NULL,
                                     p_data jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO baton.task_events (kind, actor, data)
    VALUES (p_kind, p_actor,
            jsonb_build_object('key', p_key, 'error_rate', baton._breaker_error_rate(p_recent)) || p_data);
    SELECT pg_notify('baton_events', json_build_object('kind', p_kind, 'breaker', p_key)::text);
$$;
-- +goose StatementEnd

-- _breaker_retry_at returns when an attempt refused by a breaker that is not
-- closed should ask again, or NULL when a probe may go now: a forced breaker
-- is asked again after a cooldown, an open one when it half-opens, a
-- half-open one whose probe is in flight after min(cooldown, 1s).
-- +goose StatementBegin
CREATE FUNCTION baton._breaker_retry_at(b baton.circuit_breakers, p_now timestamptz, p_cooldown_ms bigint)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN b.forced THEN p_now + p_cooldown_ms * interval '1 millisecond'
        WHEN b.state = 'open' AND p_now < b.half_open_at THEN b.half_open_at
        WHEN b.state = 'half_open' AND p_now < b.probe_expires_at
            THEN p_now + least(p_cooldown_ms, 1000) * interval '1 millisecond'
    END;
$$;
-- +goose StatementEnd

-- breaker_acquire decides whether an attempt guarded by breaker p_key may
-- run now, creating the breaker (closed) on first use. On a closed breaker
-- it is one primary-key read. When the attempt is the half-open probe,
-- probe is true and probe_id identifies it for breaker_record. When it is
-- refused, retry_at says when to ask again. p_now NULL means now().
-- +goose StatementBegin
CREATE FUNCTION baton.breaker_acquire(p_key text, p_failure_rate float8, p_window integer, p_cooldown_ms bigint,
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
-- +goose StatementEnd

-- breaker_record records the outcome of an attempt that breaker_acquire let
-- through and returns the kind of the transition it caused (breaker_opened,
-- breaker_closed), or NULL. A probe's outcome (p_probe_id set) closes the
-- breaker or opens it again, unless the probe is stale (its lease ran out
-- and another probe went, or an operator forced the breaker). Other
-- outcomes count only while the breaker is closed; on a closed breaker this
-- is one update of its row.
-- +goose StatementBegin
CREATE FUNCTION baton.breaker_record(p_key text, p_failure_rate float8, p_window integer, p_cooldown_ms bigint,
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
-- +goose StatementEnd

-- breaker_force forces breaker p_key open (it stays open, letting no probe
-- through, until forced closed) or closed (its window starts empty), logs
-- the change with p_actor, and returns the breaker. It raises P0002 when the
-- breaker does not exist.
-- +goose StatementBegin
CREATE FUNCTION baton.breaker_force(p_key text, p_open boolean, p_actor text, p_now timestamptz DEFAULT NULL)
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
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS baton.breaker_force(text, boolean, text, timestamptz);
DROP FUNCTION IF EXISTS baton.breaker_record(text, float8, integer, bigint, bigint, boolean, timestamptz);
DROP FUNCTION IF EXISTS baton.breaker_acquire(text, float8, integer, bigint, bigint, timestamptz);
DROP FUNCTION IF EXISTS baton._breaker_retry_at(baton.circuit_breakers, timestamptz, bigint);
DROP FUNCTION IF EXISTS baton._breaker_event(text, text, boolean[], text, jsonb);
DROP FUNCTION IF EXISTS baton._breaker_trips(boolean[], float8, integer);
DROP FUNCTION IF EXISTS baton._breaker_push(boolean[], boolean, integer);
DROP FUNCTION IF EXISTS baton._breaker_error_rate(boolean[]);
DROP FUNCTION IF EXISTS baton._breaker_failures(boolean[]);
DROP TABLE IF EXISTS baton.circuit_breakers;
DROP SEQUENCE IF EXISTS baton.circuit_breaker_probe_seq;
