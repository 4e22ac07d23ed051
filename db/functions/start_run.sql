-- start_run starts a run of the latest version of a workflow (or opts.version)
-- inside the caller's transaction and returns its id: a rollback leaves
-- nothing behind, a commit wakes the workers. input must be a JSON object of
-- at most 1 MB nested at most 64 levels. opts may hold idempotency_key,
-- priority (1..4), version, owner and tags; any other key, or a value of
-- the wrong type, raises 22023 naming it. The run's trigger is 'sql'.
-- Reusing an idempotency key returns the earlier run when the workflow and
-- input are the same, and raises ZB409 otherwise.
CREATE OR REPLACE FUNCTION baton.start_run(workflow text, input jsonb DEFAULT '{}', opts jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql AS $$
    SELECT run_id FROM baton._start_run(workflow, input, opts, 'sql', NULL);
$$;
