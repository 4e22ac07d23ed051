-- The run state machine. These functions are the one implementation of
-- starting, advancing, failing and cancelling runs: the Go engine calls them
-- through sqlc, and applications call baton.start_run / baton.cancel_run from
-- plain SQL inside their own transactions. See docs/adr/0001.

-- +goose Up

-- _notify sends one event notice on channel baton_events. Payloads carry ids
-- only (NOTIFY payloads are limited to 8000 bytes); listeners read the rows.
-- +goose StatementBegin
CREATE FUNCTION baton._notify(p_run_id bigint, p_kind text, p_task_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('baton_events', json_build_object('run_id', p_run_id, 'task_id', p_task_id, 'kind', p_kind)::text);
$$;
-- +goose StatementEnd

-- _enqueue_ready inserts a River job for every pending task of the run whose
-- dependencies are all done and whose condition holds, marks them queued,
-- and wakes River's producers. It returns how many tasks it queued.
-- +goose StatementBegin
CREATE FUNCTION baton._enqueue(p_task_ids bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    queued integer;
    q      text;
BEGIN
    IF p_task_ids IS NULL OR cardinality(p_task_ids) = 0 THEN
        RETURN 0;
    END IF;

    WITH jobs AS (
        INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, metadata, tags)
        SELECT jsonb_build_object('task_id', t.id, 'run_id', t.run_id),
               'baton_task', t.max_attempts, t.priority, t.queue, 'available', now(), '{}', '{}'
        FROM baton.run_tasks t
        WHERE t.id = ANY (p_task_ids)
        ORDER BY t.id
        RETURNING id, (args ->> 'task_id')::bigint AS task_id
    )
    UPDATE baton.run_tasks t
    SET status = 'queued', river_job_id = jobs.id, queued_at = now()
    FROM jobs
    WHERE t.id = jobs.task_id;
    GET DIAGNOSTICS queued = ROW_COUNT;

    FOR q IN SELECT DISTINCT t.queue FROM baton.run_tasks t WHERE t.id = ANY (p_task_ids) LOOP
        PERFORM pg_notify('public.river_insert', json_build_object('queue', q)::text);
    END LOOP;
    RETURN queued;
END
$$;
-- +goose StatementEnd

-- _start_run is baton.start_run with a flag telling whether the run is new
-- (false when an idempotency key matched an earlier run).
-- +goose StatementBegin
CREATE FUNCTION baton._start_run(p_workflow text, p_input jsonb, p_opts jsonb, OUT run_id bigint, OUT created boolean)
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
                            trigger, trigger_ref, idempotency_key, owner, tags,
                            tasks_total, tasks_remaining, started_at)
    VALUES (wf.id, wf.name, wf.version, 'running', prio, p_input,
            trig, p_opts ->> 'trigger_ref', key, coalesce(p_opts ->> 'owner', wf.owner),
            coalesce((SELECT array_agg(x) FROM jsonb_array_elements_text(p_opts -> 'tags') x), wf.tags),
            n_tasks, n_tasks, now())
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
                                 max_attempts, timeout_ms, permanent_exit_codes)
    SELECT run_id, s.name, s.step_index, s.task_type, tt.executor, 'pending', s.when_cond,
           s.depends_on, cardinality(s.depends_on), s.optional, tt.defaults || s.params,
           coalesce((p_opts ->> 'priority')::smallint, s.priority, wf.priority, tt.priority), tt.queue,
           coalesce(s.max_retries, tt.max_retries) + 1, coalesce(s.timeout_ms, tt.timeout_ms),
           tt.permanent_exit_codes
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
-- +goose StatementEnd

-- start_run starts a run of the latest version of a workflow (or opts.version)
-- inside the caller's transaction and returns its id: a rollback leaves
-- nothing behind, a commit wakes the workers. opts may hold idempotency_key,
-- priority (1..4), version, owner, tags, trigger and trigger_ref.
-- +goose StatementBegin
CREATE FUNCTION baton.start_run(workflow text, input jsonb DEFAULT '{}', opts jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql AS $$
    SELECT run_id FROM baton._start_run(workflow, input, opts);
$$;
-- +goose StatementEnd

-- _finish_task_tree is called after a task reached a final state. It
-- releases the task's children, queues those that can run, skips those whose
-- condition cannot hold (and, recursively, their own children), and finishes
-- the run when no task is left. p_finished counts the tasks finalized by the
-- caller.
-- +goose StatementBegin
CREATE FUNCTION baton._advance(p_run_id bigint, p_step text, p_finished integer DEFAULT 1)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    child     record;
    ready     bigint[] := '{}';
    skipped   integer := 0;
    remaining integer;
    failed    boolean;
    run_st    text;
BEGIN
    FOR child IN
        UPDATE baton.run_tasks c
        SET deps_pending = c.deps_pending - 1
        WHERE c.run_id = p_run_id AND p_step = ANY (c.depends_on) AND c.status = 'pending'
        RETURNING c.id, c.step_name, c.when_cond, c.depends_on, c.deps_pending
    LOOP
        CONTINUE WHEN child.deps_pending > 0;
        IF baton._condition_holds(p_run_id, child.when_cond, child.depends_on) THEN
            ready := ready || child.id;
        ELSE
            UPDATE baton.run_tasks SET status = 'skipped', finished_at = now() WHERE id = child.id;
            INSERT INTO baton.task_events (run_id, task_id, step_name, kind, data)
            VALUES (p_run_id, child.id, child.step_name, 'task_skipped',
                    jsonb_build_object('reason', 'condition ' || child.when_cond || ' not met'));
            PERFORM baton._advance(p_run_id, child.step_name, 0);
            skipped := skipped + 1;
        END IF;
    END LOOP;

    SELECT status INTO run_st FROM baton.runs WHERE id = p_run_id;
    IF run_st IN ('running', 'paused', 'queued') THEN
        PERFORM baton._enqueue(ready);
    END IF;

    IF p_finished + skipped = 0 THEN
        RETURN;
    END IF;
    UPDATE baton.runs SET tasks_remaining = tasks_remaining - (p_finished + skipped), updated_at = now()
    WHERE id = p_run_id
    RETURNING tasks_remaining INTO remaining;

    IF remaining = 0 AND run_st IN ('running', 'paused', 'queued') THEN
        SELECT EXISTS (SELECT 1 FROM baton.run_tasks t
                       WHERE t.run_id = p_run_id AND t.status IN ('failed', 'dead') AND NOT t.optional)
        INTO failed;
        UPDATE baton.runs
        SET status = CASE WHEN failed THEN 'failed' ELSE 'succeeded' END,
            error = CASE WHEN failed THEN (SELECT string_agg(t.step_name || ': ' || coalesce(t.error, 'failed'), '; ' ORDER BY t.step_index)
                                            FROM baton.run_tasks t
                                            WHERE t.run_id = p_run_id AND t.status IN ('failed', 'dead') AND NOT t.optional) END,
            finished_at = now(), updated_at = now()
        WHERE id = p_run_id;
        INSERT INTO baton.task_events (run_id, kind)
        VALUES (p_run_id, CASE WHEN failed THEN 'run_failed' ELSE 'run_succeeded' END);
        PERFORM baton._notify(p_run_id, CASE WHEN failed THEN 'run_failed' ELSE 'run_succeeded' END);
    END IF;
END
$$;
-- +goose StatementEnd

-- _condition_holds evaluates a step's `when` against its parents' final states.
-- +goose StatementBegin
CREATE FUNCTION baton._condition_holds(p_run_id bigint, p_when text, p_parents text[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_when
        WHEN 'always' THEN true
        WHEN 'on_failure' THEN bool_or(t.status IN ('failed', 'dead'))
        ELSE bool_and(t.status = 'succeeded')
    END
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND t.step_name = ANY (p_parents);
$$;
-- +goose StatementEnd

-- task_begin marks a task running for an attempt and returns it, or nothing
-- when the task may not run (its run was cancelled, or it already finished).
-- +goose StatementBegin
CREATE FUNCTION baton.task_begin(p_task_id bigint, p_attempt integer)
RETURNS SETOF baton.run_tasks
LANGUAGE sql AS $$
    UPDATE baton.run_tasks
    SET status = 'running', attempts = p_attempt, started_at = coalesce(started_at, now())
    WHERE id = p_task_id AND status IN ('queued', 'running')
    RETURNING *;
$$;
-- +goose StatementEnd

-- task_succeed records a task's success and advances its run. It returns
-- false (and changes nothing) when the task is no longer running.
-- +goose StatementBegin
CREATE FUNCTION baton.task_succeed(p_task_id bigint, p_attempt integer, p_output jsonb, p_resolved_params jsonb,
                                   p_duration_ms bigint, p_node text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    UPDATE baton.run_tasks
    SET status = 'succeeded', output = p_output, resolved_params = p_resolved_params,
        attempts = p_attempt, error = NULL, error_class = NULL, finished_at = now()
    WHERE id = p_task_id AND status IN ('queued', 'running')
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, node, queue, priority)
    VALUES (t.run_id, t.id, t.step_name, 'task_succeeded', p_attempt, p_duration_ms, p_node, t.queue, t.priority);
    PERFORM baton._advance(t.run_id, t.step_name);
    PERFORM baton._notify(t.run_id, 'task_succeeded', t.id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- task_fail records a failed attempt. When p_final is true (a permanent
-- error, or the last attempt) the task fails for good and its run advances
-- (on_failure branches run); otherwise the attempt is logged with the time
-- of the next retry and the task stays queued. Returns false when the task
-- is no longer running.
-- +goose StatementBegin
CREATE FUNCTION baton.task_fail(p_task_id bigint, p_attempt integer, p_error text, p_error_class text,
                                p_final boolean, p_next_retry_at timestamptz, p_resolved_params jsonb,
                                p_duration_ms bigint, p_node text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    UPDATE baton.run_tasks
    SET status = CASE WHEN p_final THEN 'failed' ELSE 'queued' END,
        attempts = p_attempt, error = p_error, error_class = p_error_class,
        resolved_params = coalesce(p_resolved_params, resolved_params),
        finished_at = CASE WHEN p_final THEN now() END
    WHERE id = p_task_id AND status IN ('queued', 'running')
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class,
                                   node, queue, priority, data)
    VALUES (t.run_id, t.id, t.step_name, CASE WHEN p_final THEN 'task_failed' ELSE 'task_attempt_failed' END,
            p_attempt, p_duration_ms, p_error, p_error_class, p_node, t.queue, t.priority,
            CASE WHEN p_next_retry_at IS NOT NULL THEN jsonb_build_object('next_retry_at', p_next_retry_at) END);
    IF p_final THEN
        PERFORM baton._advance(t.run_id, t.step_name);
        PERFORM baton._notify(t.run_id, 'task_failed', t.id);
    ELSE
        PERFORM baton._notify(t.run_id, 'task_attempt_failed', t.id);
    END IF;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- cancel_run cancels a run that has not finished: its unfinished tasks are
-- cancelled and their queued River jobs with them (a task already running
-- finishes its attempt, and its result is ignored). Returns false when the
-- run had already finished; raises when it does not exist.
-- +goose StatementBegin
CREATE FUNCTION baton.cancel_run(id bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    p_run_id bigint := id;
    job_ids  bigint[];
BEGIN
    UPDATE baton.runs r
    SET status = 'cancelled', finished_at = now(), updated_at = now(), tasks_remaining = 0
    WHERE r.id = p_run_id AND r.status IN ('queued', 'running', 'paused');
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM baton.runs r WHERE r.id = p_run_id) THEN
            RAISE EXCEPTION 'baton: run % not found', p_run_id USING ERRCODE = 'P0002';
        END IF;
        RETURN false;
    END IF;

    WITH cancelled AS (
        UPDATE baton.run_tasks t
        SET status = 'cancelled', finished_at = now()
        WHERE t.run_id = p_run_id AND t.status IN ('pending', 'queued', 'running')
        RETURNING t.river_job_id
    )
    SELECT array_agg(river_job_id) INTO job_ids FROM cancelled WHERE river_job_id IS NOT NULL;

    UPDATE public.river_job j
    SET state = 'cancelled', finalized_at = now()
    WHERE j.id = ANY (job_ids) AND j.state IN ('available', 'scheduled', 'retryable', 'pending');

    INSERT INTO baton.task_events (run_id, kind) VALUES (p_run_id, 'run_cancelled');
    PERFORM baton._notify(p_run_id, 'run_cancelled');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS baton.cancel_run(bigint);
DROP FUNCTION IF EXISTS baton.task_fail(bigint, integer, text, text, boolean, timestamptz, jsonb, bigint, text);
DROP FUNCTION IF EXISTS baton.task_succeed(bigint, integer, jsonb, jsonb, bigint, text);
DROP FUNCTION IF EXISTS baton.task_begin(bigint, integer);
DROP FUNCTION IF EXISTS baton._condition_holds(bigint, text, text[]);
DROP FUNCTION IF EXISTS baton._advance(bigint, text, integer);
DROP FUNCTION IF EXISTS baton.start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._enqueue(bigint[]);
DROP FUNCTION IF EXISTS baton._notify(bigint, text, bigint);
