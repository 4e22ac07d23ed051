-- The run state machine. These functions are the one implementation of
-- starting, advancing, failing and cancelling runs: the Go engine calls them
-- through sqlc, and applications call baton.start_run / baton.cancel_run from
-- plain SQL inside their own transactions. See docs/adr/0001.
--
-- Locking rule: every function that changes a run locks the run's row first
-- (several runs: in id order) and only then touches its tasks. Concurrent
-- workers, batches and cancellations therefore never deadlock.

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

-- _lock_runs locks the given runs in id order.
-- +goose StatementBegin
CREATE FUNCTION baton._lock_runs(p_run_ids bigint[])
RETURNS void
LANGUAGE sql AS $$
    SELECT NULL::void FROM (
        SELECT count(*) FROM (
            SELECT r.id FROM baton.runs r WHERE r.id = ANY (p_run_ids) ORDER BY r.id FOR UPDATE
        ) locked
    ) counted;
$$;
-- +goose StatementEnd

-- _enqueue inserts a River job for each given task, marks the tasks queued,
-- and wakes River's producers. A job's args carry everything a worker needs
-- to execute the task, so the worker reads nothing before it starts.
-- +goose StatementBegin
CREATE FUNCTION baton._enqueue(p_task_ids bigint[])
RETURNS integer
LANGUAGE plpgsql
-- Plan each statement for its actual arrays: a plan cached while the tables
-- were small would scan them whole once they grow.
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    queued integer;
    q      text;
BEGIN
    IF p_task_ids IS NULL OR cardinality(p_task_ids) = 0 THEN
        RETURN 0;
    END IF;

    WITH jobs AS (
        INSERT INTO public.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, metadata, tags)
        SELECT jsonb_build_object(
                   'task_id', t.id, 'run_id', t.run_id, 'step', t.step_name, 'task_type', t.task_type,
                   'executor', t.executor, 'params', t.params, 'timeout_ms', t.timeout_ms,
                   'permanent_exit_codes', t.permanent_exit_codes, 'backoff', t.backoff,
                   'circuit_breaker', t.circuit_breaker),
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

-- _condition_holds evaluates a step's `when` against its parents' final states.
-- +goose StatementBegin
CREATE FUNCTION baton._condition_holds(p_run_id bigint, p_when text, p_parents text[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE p_when
        WHEN 'always' THEN true
        WHEN 'on_failure' THEN coalesce(bool_or(t.status IN ('failed', 'dead')), false)
        -- A step without dependencies (a root being retried) may always run.
        ELSE coalesce(bool_and(t.status = 'succeeded' OR (t.status = 'skipped' AND t.manual_skip)), true)
    END
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND t.step_name = ANY (p_parents);
$$;
-- +goose StatementEnd

-- _advance is called, with the runs locked, after the given tasks reached a
-- final state. It releases their children, queues those whose condition
-- holds, skips the others (and, in turn, their dependents), and finishes
-- every affected run that has no task left to run. p_settle_runs names runs
-- whose pending tasks with no unfinished dependency are (re)considered too:
-- resume, retry and skip use it after changing a run's shape.
-- +goose StatementBegin
CREATE FUNCTION baton._advance(p_task_ids bigint[], p_settle_runs bigint[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    finished   bigint[] := coalesce(p_task_ids, '{}');
    ready      bigint[] := '{}';
    skipped    bigint[] := '{}';
    run_ids    bigint[];
    child      record;
    n_finished integer;
BEGIN
    SELECT coalesce(array_agg(DISTINCT x), '{}') INTO run_ids
    FROM (SELECT t.run_id AS x FROM baton.run_tasks t WHERE t.id = ANY (finished)
          UNION SELECT unnest(coalesce(p_settle_runs, '{}'))) ids;

    -- Tasks already waiting on nothing (settle mode).
    FOR child IN
        SELECT c.id, c.run_id, c.when_cond, c.depends_on FROM baton.run_tasks c
        WHERE c.run_id = ANY (p_settle_runs) AND c.status = 'pending' AND c.deps_pending = 0
    LOOP
        IF baton._condition_holds(child.run_id, child.when_cond, child.depends_on) THEN
            ready := ready || child.id;
        ELSE
            skipped := skipped || child.id;
        END IF;
    END LOOP;

    LOOP
        WITH s AS (
            UPDATE baton.run_tasks t SET status = 'skipped', finished_at = now()
            WHERE t.id = ANY (skipped) AND t.status = 'pending'
            RETURNING t.id, t.run_id, t.step_name, t.when_cond
        )
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, data)
        SELECT s.run_id, s.id, s.step_name, 'task_skipped',
               jsonb_build_object('reason', 'condition ' || s.when_cond || ' not met')
        FROM s;
        finished := finished || skipped;
        skipped := '{}';
        EXIT WHEN cardinality(finished) = 0;

        FOR child IN
            UPDATE baton.run_tasks c
            SET deps_pending = c.deps_pending - released.n
            FROM (
                -- Children are looked up per finished task through the run's
                -- index (LATERAL), never by scanning every task.
                SELECT c2.id, count(*)::integer AS n
                FROM baton.run_tasks d
                CROSS JOIN LATERAL (
                    SELECT c.id FROM baton.run_tasks c
                    WHERE c.run_id = d.run_id AND d.step_name = ANY (c.depends_on) AND c.status = 'pending'
                ) c2
                WHERE d.id = ANY (finished)
                GROUP BY c2.id
            ) released
            WHERE c.id = released.id
            RETURNING c.id, c.run_id, c.when_cond, c.depends_on, c.deps_pending
        LOOP
            CONTINUE WHEN child.deps_pending > 0;
            IF baton._condition_holds(child.run_id, child.when_cond, child.depends_on) THEN
                ready := ready || child.id;
            ELSE
                skipped := skipped || child.id;
            END IF;
        END LOOP;
        finished := '{}';
        EXIT WHEN cardinality(skipped) = 0;
    END LOOP;

    -- A paused run keeps its ready tasks pending; resume settles them.
    PERFORM baton._enqueue(array_agg(t.id))
    FROM baton.run_tasks t JOIN baton.runs r ON r.id = t.run_id
    WHERE t.id = ANY (ready) AND t.status = 'pending' AND r.status IN ('queued', 'running');

    WITH done AS (
        SELECT r.id,
               EXISTS (SELECT 1 FROM baton.run_tasks t
                       WHERE t.run_id = r.id AND t.status IN ('failed', 'dead', 'cancelled') AND NOT t.optional) AS failed
        FROM baton.runs r
        WHERE r.id = ANY (run_ids) AND r.status IN ('queued', 'running', 'paused')
          AND NOT EXISTS (SELECT 1 FROM baton.run_tasks t
                          WHERE t.run_id = r.id AND t.status IN ('pending', 'queued', 'running'))
    ), fin AS (
        UPDATE baton.runs r
        SET status = CASE WHEN done.failed THEN 'failed' ELSE 'succeeded' END,
            error = CASE WHEN done.failed THEN (
                        SELECT string_agg(t.step_name || ': ' || coalesce(t.error, t.status), '; ' ORDER BY t.step_index)
                        FROM baton.run_tasks t
                        WHERE t.run_id = r.id AND t.status IN ('failed', 'dead', 'cancelled') AND NOT t.optional) END,
            finished_at = now(), updated_at = now()
        FROM done
        WHERE r.id = done.id
        RETURNING r.id, r.status
    ), events AS (
        INSERT INTO baton.task_events (run_id, kind)
        SELECT fin.id, 'run_' || fin.status FROM fin
        RETURNING run_id, kind
    )
    SELECT count(baton._notify(events.run_id, events.kind)) INTO n_finished FROM events;
END
$$;
-- +goose StatementEnd

-- _refresh_attention flags a run as needing attention while one of its
-- non-optional tasks is dead and still in the dead-letter queue, and clears
-- the flag otherwise.
-- +goose StatementBegin
CREATE FUNCTION baton._refresh_attention(p_run_id bigint)
RETURNS void
LANGUAGE sql AS $$
    UPDATE baton.runs r
    SET attention = CASE WHEN r.status = 'cancelled' THEN NULL ELSE (
            SELECT 'step ' || t.step_name || ' is dead after ' || t.attempts || ' attempt(s): ' || coalesce(t.error, '')
            FROM baton.run_tasks t JOIN baton.dead_letters d ON d.task_id = t.id
            WHERE t.run_id = r.id AND t.status = 'dead' AND NOT t.optional
            ORDER BY t.step_index LIMIT 1) END,
        updated_at = now()
    WHERE r.id = p_run_id;
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

-- tasks_started records that workers began attempts of the given tasks (a
-- status hint for operators; it changes no run). Tasks that already
-- finished are left alone.
-- +goose StatementBegin
CREATE FUNCTION baton.tasks_started(p_ids bigint[], p_attempts integer[], p_started_at timestamptz[])
RETURNS void
LANGUAGE sql AS $$
    UPDATE baton.run_tasks t
    SET status = 'running', attempts = s.attempt, started_at = coalesce(t.started_at, s.started_at)
    FROM unnest(p_ids, p_attempts, p_started_at) AS s(id, attempt, started_at)
    WHERE t.id = s.id AND t.status IN ('queued', 'running');
$$;
-- +goose StatementEnd

-- tasks_succeed records successful attempts of many tasks at once (workers
-- batch them) and advances their runs: outputs saved, events written,
-- children queued, finished runs closed, notices sent. It returns the ids of
-- the tasks it recorded; a task that is no longer queued or running (its run
-- was cancelled) is left alone.
-- +goose StatementBegin
CREATE FUNCTION baton.tasks_succeed(p_ids bigint[], p_attempts integer[], p_outputs jsonb[], p_resolved jsonb[],
                                    p_started_at timestamptz[], p_durations_ms bigint[], p_node text)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    done bigint[];
BEGIN
    PERFORM baton._lock_runs(array_agg(rt.run_id)) FROM baton.run_tasks rt WHERE rt.id = ANY (p_ids);

    WITH input AS (
        SELECT * FROM unnest(p_ids, p_attempts, p_outputs, p_resolved, p_started_at, p_durations_ms)
                 AS i(id, attempt, output, resolved, started_at, duration_ms)
    ), updated AS (
        UPDATE baton.run_tasks rt
        SET status = 'succeeded', output = coalesce(i.output, 'null'), resolved_params = i.resolved,
            attempts = i.attempt, error = NULL, error_class = NULL,
            started_at = coalesce(rt.started_at, i.started_at), finished_at = now()
        FROM input i
        WHERE rt.id = i.id AND rt.status IN ('queued', 'running')
        RETURNING rt.id, rt.run_id, rt.step_name, rt.queue, rt.priority, i.attempt, i.duration_ms
    ), events AS (
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, node, queue, priority)
        SELECT u.run_id, u.id, u.step_name, 'task_succeeded', u.attempt, u.duration_ms, p_node, u.queue, u.priority
        FROM updated u
        RETURNING task_id
    )
    SELECT array_agg(task_id) INTO done FROM events;

    IF done IS NULL THEN
        RETURN;
    END IF;
    PERFORM baton._advance(done);
    -- One notice per run still going (a finished run already sent its own).
    PERFORM baton._notify(r.id, 'tasks_succeeded')
    FROM baton.runs r
    WHERE r.id IN (SELECT rt.run_id FROM baton.run_tasks rt WHERE rt.id = ANY (done))
      AND r.status IN ('queued', 'running', 'paused');
    RETURN QUERY SELECT unnest(done);
END
$$;
-- +goose StatementEnd

-- task_fail records a failed attempt. When p_final is true (a permanent
-- error, or the last attempt) the task is dead: it enters the dead-letter
-- queue, its run is flagged as needing attention (unless the step is
-- optional) and advances (on_failure branches run). Otherwise the attempt is
-- logged with the time of the next retry and the task stays queued. Returns
-- false when the task is no longer queued or running.
-- +goose StatementBegin
CREATE FUNCTION baton.task_fail(p_task_id bigint, p_attempt integer, p_error text, p_error_class text,
                                p_final boolean, p_next_retry_at timestamptz, p_resolved_params jsonb,
                                p_started_at timestamptz, p_duration_ms bigint, p_node text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    PERFORM baton._lock_runs(array_agg(rt.run_id)) FROM baton.run_tasks rt WHERE rt.id = p_task_id;

    UPDATE baton.run_tasks
    SET status = CASE WHEN p_final THEN 'dead' ELSE 'queued' END,
        attempts = p_attempt, error = p_error, error_class = p_error_class,
        resolved_params = coalesce(p_resolved_params, resolved_params),
        started_at = coalesce(started_at, p_started_at),
        finished_at = CASE WHEN p_final THEN now() END
    WHERE id = p_task_id AND status IN ('queued', 'running')
    RETURNING * INTO t;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, attempt, duration_ms, error, error_class,
                                   node, queue, priority, data)
    VALUES (t.run_id, t.id, t.step_name, CASE WHEN p_final THEN 'task_dead' ELSE 'task_attempt_failed' END,
            p_attempt, p_duration_ms, p_error, p_error_class, p_node, t.queue, t.priority,
            CASE WHEN p_next_retry_at IS NOT NULL THEN jsonb_build_object('next_retry_at', p_next_retry_at) END);
    IF NOT p_final THEN
        PERFORM baton._notify(t.run_id, 'task_attempt_failed', t.id);
        RETURN true;
    END IF;

    INSERT INTO baton.dead_letters (task_id, run_id, workflow_name, workflow_version, step_name, task_type, params,
                                    error, error_class, attempts, first_failed_at, last_failed_at)
    SELECT t.id, t.run_id, r.workflow_name, r.workflow_version, t.step_name, t.task_type,
           coalesce(t.resolved_params, t.params), coalesce(p_error, ''), coalesce(p_error_class, 'permanent'), p_attempt,
           coalesce((SELECT min(e.time) FROM baton.task_events e
                     WHERE e.task_id = t.id AND e.kind IN ('task_attempt_failed', 'task_dead')), now()),
           now()
    FROM baton.runs r WHERE r.id = t.run_id
    ON CONFLICT (task_id) DO UPDATE SET
        params = EXCLUDED.params, error = EXCLUDED.error, error_class = EXCLUDED.error_class,
        attempts = baton.dead_letters.attempts + EXCLUDED.attempts, last_failed_at = EXCLUDED.last_failed_at;
    IF NOT t.optional THEN
        PERFORM baton._refresh_attention(t.run_id);
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, error)
        VALUES (t.run_id, t.id, t.step_name, 'run_needs_attention', 'step ' || t.step_name || ' is dead');
    END IF;
    PERFORM baton._advance(ARRAY[t.id]);
    PERFORM baton._notify(t.run_id, 'task_dead', t.id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- _cancel_jobs cancels the River jobs of the given tasks. A waiting job is
-- cancelled at once; a running one is marked and its node is told to cancel
-- the attempt's context, exactly as River's JobCancel does, so that plain SQL
-- callers interrupt running attempts too.
-- +goose StatementBegin
CREATE FUNCTION baton._cancel_jobs(p_task_ids bigint[])
RETURNS void
LANGUAGE plpgsql
-- Plan each statement for its actual arrays: a plan cached while the tables
-- were small would scan them whole once they grow.
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    interrupted integer;
BEGIN
    WITH jobs AS (
        SELECT j.id, j.queue, j.state
        FROM public.river_job j JOIN baton.run_tasks t ON j.id = t.river_job_id
        WHERE t.id = ANY (p_task_ids) AND j.finalized_at IS NULL
          AND j.state NOT IN ('cancelled', 'completed', 'discarded')
        FOR UPDATE OF j
    ), updated AS (
        UPDATE public.river_job j
        SET state = CASE WHEN jobs.state = 'running' THEN j.state ELSE 'cancelled' END,
            finalized_at = CASE WHEN jobs.state = 'running' THEN j.finalized_at ELSE now() END,
            metadata = jsonb_set(j.metadata, '{cancel_attempted_at}', to_jsonb(now()), true)
        FROM jobs
        WHERE j.id = jobs.id
        RETURNING j.id, j.queue, jobs.state AS previous_state
    )
    SELECT count(pg_notify('public.river_control', json_build_object('action', 'cancel', 'job_id', id, 'queue', queue)::text))
    INTO interrupted
    FROM updated
    WHERE previous_state = 'running';
END
$$;
-- +goose StatementEnd

-- _run_for_update locks and returns a run, raising P0002 when it does not exist.
-- +goose StatementBegin
CREATE FUNCTION baton._run_for_update(p_run_id bigint)
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
-- +goose StatementEnd

-- _task_for_update locks a task's run, then returns the task, raising P0002
-- when the task does not exist.
-- +goose StatementBegin
CREATE FUNCTION baton._task_for_update(p_task_id bigint)
RETURNS baton.run_tasks
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks;
BEGIN
    PERFORM baton._lock_runs(array_agg(rt.run_id)) FROM baton.run_tasks rt WHERE rt.id = p_task_id;
    SELECT * INTO t FROM baton.run_tasks WHERE id = p_task_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: task % not found', p_task_id USING ERRCODE = 'P0002';
    END IF;
    RETURN t;
END
$$;
-- +goose StatementEnd

-- _reopen_descendants makes the run able to continue below a step again:
-- descendants skipped because of the step's outcome become pending, and
-- every pending descendant recounts its unfinished dependencies. The run,
-- unless paused, is running again.
-- +goose StatementBegin
CREATE FUNCTION baton._reopen_descendants(p_run_id bigint, p_step text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    below bigint[];
BEGIN
    WITH RECURSIVE down(id, step_name) AS (
        SELECT c.id, c.step_name FROM baton.run_tasks c
        WHERE c.run_id = p_run_id AND p_step = ANY (c.depends_on)
        UNION
        SELECT c.id, c.step_name FROM baton.run_tasks c JOIN down d ON d.step_name = ANY (c.depends_on)
        WHERE c.run_id = p_run_id
    )
    SELECT array_agg(id) INTO below FROM down;

    UPDATE baton.run_tasks t SET status = 'pending', finished_at = NULL
    WHERE t.id = ANY (below) AND t.status = 'skipped' AND NOT t.manual_skip;

    UPDATE baton.run_tasks c
    SET deps_pending = (SELECT count(*) FROM baton.run_tasks p
                        WHERE p.run_id = c.run_id AND p.step_name = ANY (c.depends_on)
                          AND p.status IN ('pending', 'queued', 'running'))
    WHERE c.id = ANY (below) AND c.status = 'pending';

    UPDATE baton.runs r
    SET status = CASE WHEN r.status = 'paused' THEN 'paused' ELSE 'running' END,
        finished_at = NULL, error = NULL, updated_at = now()
    WHERE r.id = p_run_id;
END
$$;
-- +goose StatementEnd

-- _retry queues a finished task again (with new params when given) and lets
-- its run continue from it. p_kind names the event (task_retried,
-- task_resubmitted).
-- +goose StatementBegin
CREATE FUNCTION baton._retry(p_task_id bigint, p_params jsonb, p_actor text, p_kind text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks := baton._task_for_update(p_task_id);
    r baton.runs;
BEGIN
    SELECT * INTO r FROM baton.runs WHERE id = t.run_id;
    IF r.status = 'cancelled' THEN
        RAISE EXCEPTION 'baton: run % was cancelled; its tasks cannot be retried', r.id USING ERRCODE = '55000';
    END IF;
    IF t.status NOT IN ('dead', 'failed', 'cancelled', 'skipped') THEN
        RAISE EXCEPTION 'baton: task % (step %) is %; only dead, failed, cancelled or skipped tasks can be retried',
            t.id, t.step_name, t.status USING ERRCODE = '55000';
    END IF;
    IF p_params IS NOT NULL AND jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'baton: params must be a JSON object, got %', jsonb_typeof(p_params) USING ERRCODE = '22023';
    END IF;

    UPDATE baton.run_tasks
    SET status = 'pending', params = coalesce(p_params, params), resolved_params = NULL, output = NULL,
        error = NULL, error_class = NULL, attempts = 0, started_at = NULL, finished_at = NULL,
        manual_skip = false, river_job_id = NULL, deps_pending = 0
    WHERE id = t.id;
    PERFORM baton._reopen_descendants(t.run_id, t.step_name);
    DELETE FROM baton.dead_letters WHERE task_id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor, data)
    VALUES (t.run_id, t.id, t.step_name, p_kind, p_actor,
            jsonb_build_object('previous_status', t.status, 'new_params', p_params IS NOT NULL));
    PERFORM baton._advance('{}', ARRAY[t.run_id]);
    PERFORM baton._refresh_attention(t.run_id);
    PERFORM baton._notify(t.run_id, p_kind, t.id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- retry_task queues a dead, failed, cancelled or skipped task again, with
-- new params when given (a JSON object replacing the old params), and lets
-- its run continue from it: dependents skipped because of it run again.
-- +goose StatementBegin
CREATE FUNCTION baton.retry_task(task_id bigint, params jsonb DEFAULT NULL, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE sql AS $$
    SELECT baton._retry(task_id, params, actor, 'task_retried');
$$;
-- +goose StatementEnd

-- skip_task marks a task skipped by hand: its dependents proceed as if it
-- had succeeded. Its River job is cancelled (a running attempt is
-- interrupted); a dead task leaves the dead-letter queue.
-- +goose StatementBegin
CREATE FUNCTION baton.skip_task(task_id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t     baton.run_tasks := baton._task_for_update(task_id);
    final boolean;
BEGIN
    IF t.status IN ('succeeded', 'skipped') THEN
        RAISE EXCEPTION 'baton: task % (step %) is already %', t.id, t.step_name, t.status USING ERRCODE = '55000';
    END IF;
    IF (SELECT r.status FROM baton.runs r WHERE r.id = t.run_id) = 'cancelled' THEN
        RAISE EXCEPTION 'baton: run % was cancelled', t.run_id USING ERRCODE = '55000';
    END IF;
    final := t.status IN ('dead', 'failed', 'cancelled');
    PERFORM baton._cancel_jobs(ARRAY[t.id]);
    UPDATE baton.run_tasks SET status = 'skipped', manual_skip = true, finished_at = now() WHERE id = t.id;
    DELETE FROM baton.dead_letters d WHERE d.task_id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor, data)
    VALUES (t.run_id, t.id, t.step_name, 'task_skipped', actor,
            jsonb_build_object('reason', 'skipped by hand', 'previous_status', t.status));
    IF final THEN
        PERFORM baton._reopen_descendants(t.run_id, t.step_name);
        PERFORM baton._advance('{}', ARRAY[t.run_id]);
    ELSE
        PERFORM baton._advance(ARRAY[t.id]);
    END IF;
    PERFORM baton._refresh_attention(t.run_id);
    PERFORM baton._notify(t.run_id, 'task_skipped', t.id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- cancel_task cancels one unfinished task and its River job (a running
-- attempt is interrupted); its on_success dependents are skipped, and its
-- run fails at the end unless the step is optional.
-- +goose StatementBegin
CREATE FUNCTION baton.cancel_task(task_id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t baton.run_tasks := baton._task_for_update(task_id);
BEGIN
    IF t.status NOT IN ('pending', 'queued', 'running') THEN
        RAISE EXCEPTION 'baton: task % (step %) already finished with status %', t.id, t.step_name, t.status
            USING ERRCODE = '55000';
    END IF;
    PERFORM baton._cancel_jobs(ARRAY[t.id]);
    UPDATE baton.run_tasks SET status = 'cancelled', finished_at = now() WHERE id = t.id;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor)
    VALUES (t.run_id, t.id, t.step_name, 'task_cancelled', actor);
    PERFORM baton._advance(ARRAY[t.id]);
    PERFORM baton._notify(t.run_id, 'task_cancelled', t.id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- pause_run pauses a running run: tasks already running finish, nothing new
-- starts (waiting tasks go back to pending, their River jobs cancelled) until
-- resume_run. Returns false when the run was already paused.
-- +goose StatementBegin
CREATE FUNCTION baton.pause_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r       baton.runs := baton._run_for_update(id);
    waiting bigint[];
BEGIN
    IF r.status = 'paused' THEN
        RETURN false;
    END IF;
    IF r.status NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'baton: run % already finished with status %', r.id, r.status USING ERRCODE = '55000';
    END IF;
    UPDATE baton.runs SET status = 'paused', updated_at = now() WHERE runs.id = r.id;

    SELECT array_agg(t.id) INTO waiting
    FROM baton.run_tasks t JOIN public.river_job j ON j.id = t.river_job_id
    WHERE t.run_id = r.id AND t.status = 'queued' AND j.state IN ('available', 'scheduled', 'retryable', 'pending');
    PERFORM baton._cancel_jobs(waiting);
    UPDATE baton.run_tasks t SET status = 'pending', river_job_id = NULL, deps_pending = 0, queued_at = NULL
    WHERE t.id = ANY (waiting);

    INSERT INTO baton.task_events (run_id, kind, actor, data)
    VALUES (r.id, 'run_paused', actor, jsonb_build_object('tasks_held', coalesce(cardinality(waiting), 0)));
    PERFORM baton._notify(r.id, 'run_paused');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- resume_run resumes a paused run: tasks whose dependencies are done are
-- queued. Returns false when the run was not paused.
-- +goose StatementBegin
CREATE FUNCTION baton.resume_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r baton.runs := baton._run_for_update(id);
BEGIN
    IF r.status <> 'paused' THEN
        RETURN false;
    END IF;
    UPDATE baton.runs SET status = 'running', updated_at = now() WHERE runs.id = r.id;
    INSERT INTO baton.task_events (run_id, kind, actor) VALUES (r.id, 'run_resumed', actor);
    PERFORM baton._advance('{}', ARRAY[r.id]);
    PERFORM baton._notify(r.id, 'run_resumed');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- cancel_run cancels a run that has not finished: its unfinished tasks are
-- cancelled with their River jobs (running attempts are interrupted).
-- Returns false when the run had already finished; raises when it does not
-- exist.
-- +goose StatementBegin
CREATE FUNCTION baton.cancel_run(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    r         baton.runs := baton._run_for_update(id);
    cancelled bigint[];
BEGIN
    IF r.status NOT IN ('queued', 'running', 'paused') THEN
        RETURN false;
    END IF;
    UPDATE baton.runs SET status = 'cancelled', finished_at = now(), updated_at = now(), attention = NULL
    WHERE runs.id = r.id;

    SELECT array_agg(t.id) INTO cancelled FROM baton.run_tasks t
    WHERE t.run_id = r.id AND t.status IN ('pending', 'queued', 'running');
    PERFORM baton._cancel_jobs(cancelled);
    UPDATE baton.run_tasks t SET status = 'cancelled', finished_at = now() WHERE t.id = ANY (cancelled);

    INSERT INTO baton.task_events (run_id, kind, actor) VALUES (r.id, 'run_cancelled', actor);
    PERFORM baton._notify(r.id, 'run_cancelled');
    RETURN true;
END
$$;
-- +goose StatementEnd

-- resubmit_dead_letter retries a dead-letter entry's task (with new params
-- when given) and removes the entry; the run continues from that task.
-- +goose StatementBegin
CREATE FUNCTION baton.resubmit_dead_letter(id bigint, params jsonb DEFAULT NULL, actor text DEFAULT current_user)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    task bigint;
BEGIN
    SELECT d.task_id INTO task FROM baton.dead_letters d WHERE d.id = resubmit_dead_letter.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: dead letter % not found', resubmit_dead_letter.id USING ERRCODE = 'P0002';
    END IF;
    PERFORM baton._retry(task, params, actor, 'task_resubmitted');
    RETURN task;
END
$$;
-- +goose StatementEnd

-- discard_dead_letter removes a dead-letter entry; its task stays dead.
-- +goose StatementBegin
CREATE FUNCTION baton.discard_dead_letter(id bigint, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    d baton.dead_letters;
BEGIN
    DELETE FROM baton.dead_letters dl WHERE dl.id = discard_dead_letter.id RETURNING * INTO d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baton: dead letter % not found', discard_dead_letter.id USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO baton.task_events (run_id, task_id, step_name, kind, actor)
    VALUES (d.run_id, d.task_id, d.step_name, 'dead_letter_discarded', actor);
    PERFORM baton._refresh_attention(d.run_id);
    PERFORM baton._notify(d.run_id, 'dead_letter_discarded', d.task_id);
    RETURN true;
END
$$;
-- +goose StatementEnd

-- purge_dead_letters removes dead-letter entries older than retention and
-- returns how many it removed.
-- +goose StatementBegin
CREATE FUNCTION baton.purge_dead_letters(retention interval)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    runs_touched bigint[];
    n            integer;
BEGIN
    WITH gone AS (
        DELETE FROM baton.dead_letters d WHERE d.created_at < now() - retention RETURNING d.run_id
    )
    SELECT array_agg(DISTINCT run_id), count(*) INTO runs_touched, n FROM gone;
    PERFORM baton._refresh_attention(x) FROM unnest(coalesce(runs_touched, '{}')) x;
    RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS baton.purge_dead_letters(interval);
DROP FUNCTION IF EXISTS baton.discard_dead_letter(bigint, text);
DROP FUNCTION IF EXISTS baton.resubmit_dead_letter(bigint, jsonb, text);
DROP FUNCTION IF EXISTS baton.cancel_run(bigint, text);
DROP FUNCTION IF EXISTS baton.resume_run(bigint, text);
DROP FUNCTION IF EXISTS baton.pause_run(bigint, text);
DROP FUNCTION IF EXISTS baton.cancel_task(bigint, text);
DROP FUNCTION IF EXISTS baton.skip_task(bigint, text);
DROP FUNCTION IF EXISTS baton.retry_task(bigint, jsonb, text);
DROP FUNCTION IF EXISTS baton._retry(bigint, jsonb, text, text);
DROP FUNCTION IF EXISTS baton._reopen_descendants(bigint, text);
DROP FUNCTION IF EXISTS baton._task_for_update(bigint);
DROP FUNCTION IF EXISTS baton._run_for_update(bigint);
DROP FUNCTION IF EXISTS baton._cancel_jobs(bigint[]);
DROP FUNCTION IF EXISTS baton.task_fail(bigint, integer, text, text, boolean, timestamptz, jsonb, timestamptz, bigint, text);
DROP FUNCTION IF EXISTS baton.tasks_succeed(bigint[], integer[], jsonb[], jsonb[], timestamptz[], bigint[], text);
DROP FUNCTION IF EXISTS baton.tasks_started(bigint[], integer[], timestamptz[]);
DROP FUNCTION IF EXISTS baton.start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._refresh_attention(bigint);
DROP FUNCTION IF EXISTS baton._advance(bigint[], bigint[]);
DROP FUNCTION IF EXISTS baton._condition_holds(bigint, text, text[]);
DROP FUNCTION IF EXISTS baton._enqueue(bigint[]);
DROP FUNCTION IF EXISTS baton._lock_runs(bigint[]);
DROP FUNCTION IF EXISTS baton._notify(bigint, text, bigint);
