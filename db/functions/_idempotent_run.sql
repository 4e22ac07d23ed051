-- _idempotent_run returns the run started earlier with idempotency key key,
-- or NULL when there is none. As payment APIs do, a key stands for one
-- request: when the earlier run is of another workflow or has another input,
-- it raises ZB409 (a Baton SQLSTATE the engine maps to a conflict, and the
-- API to 409) instead of returning an unrelated run.
CREATE OR REPLACE FUNCTION baton._idempotent_run(key text, p_workflow text, p_input jsonb)
RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r baton.runs;
BEGIN
    SELECT * INTO r FROM baton.runs WHERE runs.idempotency_key = key;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF r.workflow_name <> p_workflow OR r.input <> p_input THEN
        RAISE EXCEPTION 'baton: idempotency_key: key already used by run % (workflow "%") with another workflow or input', r.id, r.workflow_name
            USING ERRCODE = 'ZB409',
                  HINT = 'use a new idempotency key for a different request';
    END IF;
    RETURN r.id;
END
$$;
