-- _check_batch_member raises 22023 with the reason when m is not a valid
-- member of baton.start_batch: a JSON object with a known workflow (and
-- version, when given), an input within the limits of baton._check_json
-- and the options of baton.start_run. It reads the workflows and writes
-- nothing.
CREATE OR REPLACE FUNCTION baton._check_batch_member(m jsonb)
RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    opts jsonb;
BEGIN
    IF jsonb_typeof(m) <> 'object' THEN
        RAISE EXCEPTION 'baton: must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_object_keys(m) k
               WHERE k NOT IN ('workflow', 'input', 'idempotency_key', 'priority', 'version', 'owner', 'tags')) THEN
        RAISE EXCEPTION 'baton: unknown field (allowed: workflow, input, idempotency_key, priority, version, owner, tags)'
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(m -> 'workflow') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'baton: workflow: required, a string' USING ERRCODE = '22023';
    END IF;
    IF m ? 'input' THEN
        PERFORM baton._check_json(m -> 'input', 'input');
    END IF;
    opts := m - 'workflow' - 'input';
    PERFORM baton._check_start_opts(opts);
    IF NOT EXISTS (SELECT 1 FROM baton.workflows w WHERE w.name = m ->> 'workflow'
                   AND (NOT opts ? 'version' OR w.version = (opts ->> 'version')::integer)) THEN
        RAISE EXCEPTION 'baton: unknown workflow "%"%', left(m ->> 'workflow', 200),
            CASE WHEN opts ? 'version' THEN ' version ' || (opts ->> 'version') ELSE '' END
            USING ERRCODE = '22023';
    END IF;
END
$$;
