-- rate_limit_take refills the token bucket of p_subject (capacity
-- p_capacity, p_per_second tokens a second, full when new) up to p_now,
-- puts back p_return tokens a caller leased and did not spend, and takes up
-- to p_want whole tokens from it. It returns how many it granted
-- and the tokens left. The upsert locks the row, so concurrent callers on
-- any number of API processes share one bucket. A clock behind the bucket's
-- (another node's) refills nothing rather than draining it.
CREATE OR REPLACE FUNCTION baton.rate_limit_take(p_subject text, p_capacity double precision,
    p_per_second double precision, p_want integer, p_now timestamptz, p_return integer DEFAULT 0)
RETURNS TABLE (granted integer, tokens double precision)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    available double precision;
BEGIN
    INSERT INTO baton.rate_limit_buckets AS b (subject, tokens, updated_at)
    VALUES (p_subject, p_capacity, p_now)
    ON CONFLICT (subject) DO UPDATE SET
        tokens = least(p_capacity, greatest(0, p_return)
            + b.tokens + greatest(0, extract(epoch FROM p_now - b.updated_at)) * p_per_second),
        updated_at = greatest(b.updated_at, p_now)
    RETURNING b.tokens INTO available;
    granted := greatest(0, least(p_want, floor(available)))::integer;
    tokens := available - granted;
    IF granted > 0 OR p_return > 0 THEN
        UPDATE baton.rate_limit_buckets b SET tokens = rate_limit_take.tokens WHERE b.subject = p_subject;
    END IF;
    RETURN NEXT;
END
$$;
