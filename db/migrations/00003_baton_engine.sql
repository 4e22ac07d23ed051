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
        SELECT jsonb_build_object(
                   'task_id', t.id, 'run_id', t.run_id, 'step', t.step_name, 'task_type', t.task_type,
                   'executor', t.executor, 'params', t.params, 'timeout_ms', t.timeout_ms,
                   'permanent_exit_codes', t.permanent_exit_codes),
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
        WHEN 'on_failure' THEN bool_or(t.status IN ('failed', 'dead'))
        ELSE bool_and(t.status = 'succeeded')
    END
    FROM baton.run_tasks t
    WHERE t.run_id = p_run_id AND t.step_name = ANY (p_parents);
$$;
-- +goose StatementEnd

-- _advance is called, with the runs locked, after the given tasks reached a
-- final state. It releases their children, queues those whose condition
-- holds, skips the others (and, in turn, their dependents), and finishes
-- every affected run that has no task left to run.
-- +goose StatementBegin
CREATE FUNCTION baton._advance(p_task_ids bigint[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    finished bigint[] := p_task_ids;
    ready    bigint[] := '{}';
    skipped  bigint[];
    run_ids  bigint[];
    child      record;
    n_finished integer;
BEGIN
    SELECT array_agg(DISTINCT t.run_id) INTO run_ids FROM baton.run_tasks t WHERE t.id = ANY (p_task_ids);

    WHILE cardinality(finished) > 0 LOOP
        skipped := '{}';
        FOR child IN
            UPDATE baton.run_tasks c
            SET deps_pending = c.deps_pending - released.n
            FROM (
                SELECT c2.id, count(*)::integer AS n
                FROM baton.run_tasks d
                JOIN baton.run_tasks c2 ON c2.run_id = d.run_id AND d.step_name = ANY (c2.depends_on)
                WHERE d.id = ANY (finished) AND c2.status = 'pending'
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

        WITH s AS (
            UPDATE baton.run_tasks t SET status = 'skipped', finished_at = now()
            WHERE t.id = ANY (skipped)
            RETURNING t.id, t.run_id, t.step_name, t.when_cond
        )
        INSERT INTO baton.task_events (run_id, task_id, step_name, kind, data)
        SELECT s.run_id, s.id, s.step_name, 'task_skipped',
               jsonb_build_object('reason', 'condition ' || s.when_cond || ' not met')
        FROM s;
        finished := skipped;
    END LOOP;

    PERFORM baton._enqueue(array_agg(t.id))
    FROM baton.run_tasks t JOIN baton.runs r ON r.id = t.run_id
    WHERE t.id = ANY (ready) AND r.status IN ('queued', 'running');

    WITH done AS (
        SELECT r.id,
               EXISTS (SELECT 1 FROM baton.run_tasks t
                       WHERE t.run_id = r.id AND t.status IN ('failed', 'dead') AND NOT t.optional) AS failed
        FROM baton.runs r
        WHERE r.id = ANY (run_ids) AND r.status IN ('queued', 'running', 'paused')
          AND NOT EXISTS (SELECT 1 FROM baton.run_tasks t
                          WHERE t.run_id = r.id AND t.status IN ('pending', 'queued', 'running'))
    ), fin AS (
        UPDATE baton.runs r
        SET status = CASE WHEN done.failed THEN 'failed' ELSE 'succeeded' END,
            error = CASE WHEN done.failed THEN (
                        SELECT string_agg(t.step_name || ': ' || coalesce(t.error, 'failed'), '; ' ORDER BY t.step_index)
                        FROM baton.run_tasks t
                        WHERE t.run_id = r.id AND t.status IN ('failed', 'dead') AND NOT t.optional) END,
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
    PERFORM baton._notify(rt.run_id, 'task_succeeded', rt.id) FROM baton.run_tasks rt WHERE rt.id = ANY (done);
    RETURN QUERY SELECT unnest(done);
END
$$;
-- +goose StatementEnd

-- task_fail records a failed attempt. When p_final is true (a permanent
-- error, or the last attempt) the task fails for good and its run advances
-- (on_failure branches run); otherwise the attempt is logged with the time
-- of the next retry and the task stays queued. Returns false when the task
-- is no longer queued or running.
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
    SET status = CASE WHEN p_final THEN 'failed' ELSE 'queued' END,
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
    VALUES (t.run_id, t.id, t.step_name, CASE WHEN p_final THEN 'task_failed' ELSE 'task_attempt_failed' END,
            p_attempt, p_duration_ms, p_error, p_error_class, p_node, t.queue, t.priority,
            CASE WHEN p_next_retry_at IS NOT NULL THEN jsonb_build_object('next_retry_at', p_next_retry_at) END);
    IF p_final THEN
        PERFORM baton._advance(ARRAY[t.id]);
        PERFORM baton._notify(t.run_id, 'task_failed', t.id);
    ELSE
        PERFORM baton._notify(t.run_id, 'task_attempt_failed', t.id);
    END IF;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- cancel_run cancels a run that has not finished: its unfinished tasks are
-- cancelled and their waiting River jobs with them (a task already running
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
    SET status = 'cancelled', finished_at = now(), updated_at = now()
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
DROP FUNCTION IF EXISTS baton.task_fail(bigint, integer, text, text, boolean, timestamptz, jsonb, timestamptz, bigint, text);
DROP FUNCTION IF EXISTS baton.tasks_succeed(bigint[], integer[], jsonb[], jsonb[], timestamptz[], bigint[], text);
DROP FUNCTION IF EXISTS baton.tasks_started(bigint[], integer[], timestamptz[]);
DROP FUNCTION IF EXISTS baton.start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._start_run(text, jsonb, jsonb);
DROP FUNCTION IF EXISTS baton._advance(bigint[]);
DROP FUNCTION IF EXISTS baton._condition_holds(bigint, text, text[]);
DROP FUNCTION IF EXISTS baton._enqueue(bigint[]);
DROP FUNCTION IF EXISTS baton._lock_runs(bigint[]);
DROP FUNCTION IF EXISTS baton._notify(bigint, text, bigint);
