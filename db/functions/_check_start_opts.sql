-- _check_start_opts raises invalid_parameter_value (22023), naming the
-- option, unless opts (NULL counts as {}) is a JSON object holding only the
-- options of baton.start_run with values of their type and range.
CREATE OR REPLACE FUNCTION baton._check_start_opts(opts jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k   text;
    v   jsonb;
    n   numeric;
    tag jsonb;
BEGIN
    IF opts IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'baton: opts: must be a JSON object, got %', jsonb_typeof(opts) USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM jsonb_each(opts) e LOOP
        CASE k
        WHEN 'idempotency_key', 'owner' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'baton: %: must be a string, got %', k, jsonb_typeof(v) USING ERRCODE = '22023';
            END IF;
            IF k = 'idempotency_key' AND char_length(v #>> '{}') NOT BETWEEN 1 AND 200 THEN
                RAISE EXCEPTION 'baton: idempotency_key: must be 1 to 200 characters, got %', char_length(v #>> '{}')
                    USING ERRCODE = '22023';
            END IF;
            IF k = 'owner' AND char_length(v #>> '{}') > 200 THEN
                RAISE EXCEPTION 'baton: owner: must be at most 200 characters, got %', char_length(v #>> '{}')
                    USING ERRCODE = '22023';
            END IF;
        WHEN 'priority', 'version' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'baton: %: must be an integer, got %', k, jsonb_typeof(v) USING ERRCODE = '22023';
            END IF;
            n := v::numeric;
            IF n <> trunc(n) THEN
                RAISE EXCEPTION 'baton: %: must be an integer, got %', k, n USING ERRCODE = '22023';
            END IF;
            IF k = 'priority' AND n NOT BETWEEN 1 AND 4 THEN
                RAISE EXCEPTION 'baton: priority: must be between 1 and 4, got %', n USING ERRCODE = '22023';
            END IF;
            IF k = 'version' AND n NOT BETWEEN 1 AND 2147483647 THEN
                RAISE EXCEPTION 'baton: version: must be between 1 and 2147483647, got %', n USING ERRCODE = '22023';
            END IF;
        WHEN 'tags' THEN
            IF jsonb_typeof(v) <> 'array' THEN
                RAISE EXCEPTION 'baton: tags: must be an array of strings, got %', jsonb_typeof(v) USING ERRCODE = '22023';
            END IF;
            IF jsonb_array_length(v) > 50 THEN
                RAISE EXCEPTION 'baton: tags: must hold at most 50 tags, got %', jsonb_array_length(v) USING ERRCODE = '22023';
            END IF;
            FOR tag IN SELECT jsonb_array_elements(v) LOOP
                IF jsonb_typeof(tag) <> 'string' OR char_length(tag #>> '{}') NOT BETWEEN 1 AND 100 THEN
                    RAISE EXCEPTION 'baton: tags: every tag must be a string of 1 to 100 characters, got %', left(tag::text, 120)
                        USING ERRCODE = '22023';
                END IF;
            END LOOP;
        ELSE
            RAISE EXCEPTION 'baton: opts: unknown option "%"', left(k, 100)
                USING ERRCODE = '22023',
                      HINT = 'start_run accepts idempotency_key, priority, version, owner and tags';
        END CASE;
    END LOOP;
END
$$;
