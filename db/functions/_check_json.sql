-- _check_json raises invalid_parameter_value (22023), naming field, unless
-- value is a JSON object of at most 1 MB (its text form) nested at most 64
-- levels deep (the object itself is level 1). These are the limits the API
-- and the Go engine apply to run input, step params and task-type defaults;
-- a NUL (\u0000) or invalid UTF-8 never gets this far: PostgreSQL refuses
-- it when the jsonb value is parsed (22P05, 22021).
CREATE OR REPLACE FUNCTION baton._check_json(value jsonb, field text)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    max_bytes CONSTANT integer := 1048576;
    max_depth CONSTANT integer := 64;
    size      integer;
    depth     integer;
BEGIN
    IF value IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(value) <> 'object' THEN
        RAISE EXCEPTION 'baton: %: must be a JSON object, got %', field, jsonb_typeof(value)
            USING ERRCODE = '22023';
    END IF;
    size := octet_length(value::text);
    IF size > max_bytes THEN
        RAISE EXCEPTION 'baton: %: must be at most % bytes of JSON, got %', field, max_bytes, size
            USING ERRCODE = '22023';
    END IF;
    -- Nesting deeper than max_depth needs at least 2 * max_depth brackets.
    IF size <= 2 * max_depth THEN
        RETURN;
    END IF;
    WITH RECURSIVE walk(v, d) AS (
        SELECT value, 1
        UNION ALL
        SELECT c.v, w.d + 1
        FROM walk w
        CROSS JOIN LATERAL (
            SELECT e.value AS v FROM jsonb_each(CASE WHEN jsonb_typeof(w.v) = 'object' THEN w.v END) e
            UNION ALL
            SELECT a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.v) = 'array' THEN w.v END) a
        ) c
        WHERE w.d <= max_depth AND jsonb_typeof(c.v) IN ('object', 'array')
    )
    SELECT max(d) INTO depth FROM walk;
    IF depth > max_depth THEN
        RAISE EXCEPTION 'baton: %: must be nested at most % levels deep', field, max_depth
            USING ERRCODE = '22023';
    END IF;
END
$$;
