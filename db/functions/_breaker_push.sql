-- _breaker_push appends an outcome and keeps the last p_window ones.
CREATE OR REPLACE FUNCTION baton._breaker_push(p_recent boolean[], p_failed boolean, p_window integer)
RETURNS boolean[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_recent || p_failed)[greatest(1, cardinality(p_recent) + 2 - p_window):];
$$;
