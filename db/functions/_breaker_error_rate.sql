-- _breaker_error_rate is the share of failures among outcomes (0 without any).
CREATE OR REPLACE FUNCTION baton._breaker_error_rate(p_recent boolean[])
RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(cardinality(p_recent), 0) = 0 THEN 0
                ELSE baton._breaker_failures(p_recent)::float8 / cardinality(p_recent) END;
$$;
