-- _start_run is baton.start_run with a flag telling whether the run is new
-- (false when an idempotency key matched an earlier run).
CREATE OR REPLACE FUNCTION baton._start_run(p_workflow text, p_input jsonb, p_opts jsonb, OUT run_id bigint, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    wf        baton.workflows;
    key       text := nullif(p_opts ->> 'idempotency_key', '');
    trig      text := coalesce(p_opts ->> 'trigger', 'sql');
    prio      smallint;
    n_tasks   integer;
    roots     bigint[];
BEGIN
    IF p_input IS NULL THEN
        p_input := '{}';
    END IF;
    IF jsonb_typeof(p_input) <> 'object' THEN
        RAISE EXCEPTION 'baton: run input must be a JSON object, got %', jsonb_typeof(p_input)
            USING ERRCODE = '22023';
    END IF;
    IF p_opts IS NULL THEN
        p_opts := '{}';
    END IF;

    IF key IS NOT NULL THEN
        SELECT r.id INTO run_id FROM baton.runs r WHERE r.idempotency_key = key;
        IF FOUND THEN
            created := false;
            RETURN;
        END IF;
    END IF;

    IF p_opts ? 'version' THEN
        SELECT * INTO wf FROM baton.workflows w
        WHERE w.name = p_workflow AND w.version = (p_opts ->> 'version')::integer;
    ELSE
        SELECT * INTO wf FROM baton.workflows w
        WHERE w.name = p_workflow ORDER BY w.version DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: unknown workflow "%"', p_workflow
            USING ERRCODE = 'P0002', HINT = 'apply the workflow first (baton apply or POST /v1/workflows)';
    END IF;

    prio := coalesce((p_opts ->> 'priority')::smallint, wf.priority);
    IF prio NOT BETWEEN 1 AND 4 THEN
        RAISE EXCEPTION 'baton: priority must be between 1 and 4, got %', prio USING ERRCODE = '22023';
    END IF;

    SELECT count(*) INTO n_tasks FROM baton.workflow_steps s WHERE s.workflow_id = wf.id;

    INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, input,
                            trigger, trigger_ref, idempotency_key, owner, tags, tasks_total, started_at)
    VALUES (wf.id, wf.name, wf.version, 'running', prio, p_input,
            trig, p_opts ->> 'trigger_ref', key, coalesce(p_opts ->> 'owner', wf.owner),
            coalesce((SELECT array_agg(x) FROM jsonb_array_elements_text(p_opts -> 'tags') x), wf.tags),
            n_tasks, now())
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO run_id;

    IF run_id IS NULL THEN
        -- A concurrent start with the same key won the race.
        SELECT r.id INTO run_id FROM baton.runs r WHERE r.idempotency_key = key;
        created := false;
        RETURN;
    END IF;
    created := true;

    INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond,
                                 depends_on, deps_pending, optional, params, priority, queue,
                                 max_attempts, timeout_ms, permanent_exit_codes, backoff, circuit_breaker)
    SELECT run_id, s.name, s.step_index, s.task_type, tt.executor, 'pending', s.when_cond,
           s.depends_on, cardinality(s.depends_on), s.optional, tt.defaults || s.params,
           coalesce((p_opts ->> 'priority')::smallint, s.priority, wf.priority, tt.priority), tt.queue,
           coalesce(s.max_retries, tt.max_retries) + 1, coalesce(s.timeout_ms, tt.timeout_ms),
           tt.permanent_exit_codes, coalesce(s.backoff, tt.backoff), tt.circuit_breaker
    FROM baton.workflow_steps s
    JOIN baton.task_types tt ON tt.name = s.task_type
    WHERE s.workflow_id = wf.id;

    INSERT INTO baton.task_events (run_id, kind, priority, data)
    VALUES (run_id, 'run_started', prio,
            jsonb_build_object('workflow', wf.name, 'version', wf.version, 'trigger', trig));

    SELECT array_agg(t.id) INTO roots FROM baton.run_tasks t
    WHERE t.run_id = _start_run.run_id AND t.deps_pending = 0;
    PERFORM baton._enqueue(roots);
    PERFORM baton._notify(run_id, 'run_started');
END
$$;
