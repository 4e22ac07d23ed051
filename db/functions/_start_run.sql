-- _start_run is baton.start_run with a flag telling whether the run is new
-- (false when an idempotency key matched an earlier run of the same workflow
-- with the same input). The trigger and its reference are arguments rather
-- than options: baton.start_run passes 'sql', the engine its own ('api',
-- 'library', 'schedule', ...), so a SQL caller cannot pose as another
-- trigger.
--
-- opts is a JSON object whose keys must be among idempotency_key (a string
-- of 1 to 200 characters), priority (an integer 1..4), version (an integer
-- 1..2147483647), owner (a string of at most 200 characters) and tags (an
-- array of at most 50 strings of 1 to 100 characters). Anything else raises
-- 22023 naming the option. Reusing an idempotency key for another workflow
-- or another input raises ZB409.
--
-- A run with a step that declares resources no live worker node can fit
-- raises 22023 naming the step and the largest node (baton._check_run_fits).
--
-- A workflow with an SLA (workflows.sla_ms) gives the run its deadline,
-- now() + sla (now() is the run's created_at), and sla_state 'open' for
-- baton.check_slas.
DROP FUNCTION IF EXISTS baton._start_run(text, jsonb, jsonb);
CREATE OR REPLACE FUNCTION baton._start_run(p_workflow text, p_input jsonb, p_opts jsonb,
                                            p_trigger text, p_trigger_ref text,
                                            OUT run_id bigint, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    wf        baton.workflows;
    key       text;
    prio      smallint;
    ver       integer;
    tags      text[];
    n_tasks   integer;
    roots     bigint[];
    needs_fit boolean;
BEGIN
    IF p_input IS NULL THEN
        p_input := '{}';
    END IF;
    PERFORM baton._check_json(p_input, 'input');
    PERFORM baton._check_start_opts(p_opts);
    IF p_trigger IS NULL OR p_trigger NOT IN ('api', 'sql', 'schedule', 'event', 'batch', 'library') THEN
        RAISE EXCEPTION 'baton: trigger: unknown trigger %', coalesce(p_trigger, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF p_opts IS NULL THEN
        p_opts := '{}';
    END IF;
    key := p_opts ->> 'idempotency_key';
    prio := (p_opts ->> 'priority')::smallint;
    ver := (p_opts ->> 'version')::integer;
    IF p_opts ? 'tags' THEN
        tags := ARRAY(SELECT jsonb_array_elements_text(p_opts -> 'tags'));
    END IF;

    IF key IS NOT NULL THEN
        run_id := baton._idempotent_run(key, p_workflow, p_input);
        IF run_id IS NOT NULL THEN
            created := false;
            RETURN;
        END IF;
    END IF;

    IF ver IS NOT NULL THEN
        SELECT * INTO wf FROM baton.workflows w
        WHERE w.name = p_workflow AND w.version = ver;
    ELSE
        SELECT * INTO wf FROM baton.workflows w
        WHERE w.name = p_workflow ORDER BY w.version DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: unknown workflow "%"', p_workflow
            USING ERRCODE = 'P0002', HINT = 'apply the workflow first (baton apply or POST /v1/workflows)';
    END IF;

    SELECT count(*) INTO n_tasks FROM baton.workflow_steps s WHERE s.workflow_id = wf.id;

    INSERT INTO baton.runs (workflow_id, workflow_name, workflow_version, status, priority, input,
                            trigger, trigger_ref, idempotency_key, owner, tags, tasks_total, started_at,
                            sla_deadline, sla_state)
    VALUES (wf.id, wf.name, wf.version, 'running', coalesce(prio, wf.priority), p_input,
            p_trigger, nullif(p_trigger_ref, ''), key, coalesce(p_opts ->> 'owner', wf.owner),
            coalesce(tags, wf.tags), n_tasks, now(),
            now() + wf.sla_ms * interval '1 millisecond', CASE WHEN wf.sla_ms IS NOT NULL THEN 'open' END)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id INTO run_id;

    IF run_id IS NULL THEN
        -- A concurrent start with the same key won the race.
        run_id := baton._idempotent_run(key, p_workflow, p_input);
        created := false;
        RETURN;
    END IF;
    created := true;

    WITH inserted AS (
    INSERT INTO baton.run_tasks (run_id, step_name, step_index, task_type, executor, status, when_cond,
                                 depends_on, deps_pending, optional, params, priority, queue,
                                 max_attempts, timeout_ms, permanent_exit_codes, backoff, circuit_breaker, resources,
                                 concurrency)
    SELECT run_id, s.name, s.step_index, s.task_type, tt.executor, 'pending', s.when_cond,
           s.depends_on, cardinality(s.depends_on), s.optional, tt.defaults || s.params,
           coalesce(prio, s.priority, wf.priority, tt.priority), tt.queue,
           coalesce(s.max_retries, tt.max_retries) + 1, coalesce(s.timeout_ms, tt.timeout_ms),
           tt.permanent_exit_codes, coalesce(s.backoff, tt.backoff), tt.circuit_breaker,
           -- A step's resources override its type's, field by field.
           CASE WHEN s.resources IS NULL THEN tt.resources
                ELSE coalesce(tt.resources, '{}') || s.resources END,
           -- The workflow's and step's rules (stored per step), then the type's.
           CASE WHEN tt.concurrency_limit IS NULL THEN s.concurrency
                ELSE coalesce(s.concurrency, '[]') || jsonb_build_array(jsonb_build_object(
                     'key', 'task_type:' || tt.name, 'limit', tt.concurrency_limit)) END
    FROM baton.workflow_steps s
    JOIN baton.task_types tt ON tt.name = s.task_type
    WHERE s.workflow_id = wf.id
    RETURNING id, deps_pending, resources
    )
    -- The roots come from the insert itself: a query of run_tasks here
    -- would be planned from statistics that may predate the batch of runs
    -- the transaction is inserting (a sequential scan of a table thought
    -- empty).
    SELECT bool_or(inserted.resources IS NOT NULL), array_agg(inserted.id ORDER BY inserted.id) FILTER (WHERE inserted.deps_pending = 0)
    INTO needs_fit, roots FROM inserted;
    IF needs_fit THEN
        -- Only runs with steps that declare resources pay for this check.
        PERFORM baton._check_run_fits(run_id);
    END IF;

    INSERT INTO baton.task_events (run_id, kind, priority, data)
    VALUES (run_id, 'run_started', coalesce(prio, wf.priority),
            jsonb_build_object('workflow', wf.name, 'version', wf.version, 'trigger', p_trigger));

    PERFORM baton._enqueue(roots);
    PERFORM baton._notify(run_id, 'run_started');
END
$$;
