-- _breaker_trips reports whether a full window holds more than p_failure_rate failures.
CREATE OR REPLACE FUNCTION baton._breaker_trips(p_recent boolean[], p_failure_rate float8, p_window integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT cardinality(p_recent) >= p_window
       AND baton._breaker_failures(p_recent)::numeric > p_failure_rate::numeric * p_window;
$$;
