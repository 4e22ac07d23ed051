-- _run_for_update locks and returns a run, raising P0002 when it does not exist.
CREATE OR REPLACE FUNCTION baton._run_for_update(p_run_id bigint)
RETURNS baton.runs
LANGUAGE plpgsql AS $$
DECLARE
    r baton.runs;
BEGIN
    SELECT * INTO r FROM baton.runs WHERE id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: run % not found', p_run_id USING ERRCODE = 'P0002';
    END IF;
    RETURN r;
END
$$;
