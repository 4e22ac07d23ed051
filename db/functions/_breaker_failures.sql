-- _breaker_failures counts the failures among outcomes.
CREATE OR REPLACE FUNCTION baton._breaker_failures(p_recent boolean[])
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(cardinality(array_positions(p_recent, true)), 0);
$$;
