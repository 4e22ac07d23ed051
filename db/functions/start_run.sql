-- start_run starts a run of the latest version of a workflow (or opts.version)
-- inside the caller's transaction and returns its id: a rollback leaves
-- nothing behind, a commit wakes the workers. opts may hold idempotency_key,
-- priority (1..4), version, owner, tags, trigger and trigger_ref.
CREATE OR REPLACE FUNCTION baton.start_run(workflow text, input jsonb DEFAULT '{}', opts jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql AS $$
    SELECT run_id FROM baton._start_run(workflow, input, opts);
$$;
