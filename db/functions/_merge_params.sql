-- _merge_params merges patch over params, one level deep (JSON Merge Patch,
-- RFC 7396, at the top level): each key of patch replaces the same key of
-- params, a key whose value is null is removed, and the other keys of params
-- are kept. A NULL patch leaves params as they are.
CREATE OR REPLACE FUNCTION baton._merge_params(params jsonb, patch jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN patch IS NULL THEN params
        ELSE (params || patch) - ARRAY(SELECT e.key FROM jsonb_each(patch) e WHERE e.value = 'null'::jsonb)
    END;
$$;
