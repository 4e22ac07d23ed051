-- name: SLACheck :one
-- One SLA check (baton.check_slas): runs escalated, violated and settled.
SELECT at_risk::integer AS at_risk, violated::integer AS violated, settled::integer AS settled
FROM baton.check_slas(@history::integer, @max_runs::integer);

-- name: RunSetPriority :one
SELECT baton.set_run_priority(@id::bigint, @priority::integer, @actor::text)::integer AS jobs_updated;

-- name: TaskSetPriority :one
SELECT baton.set_task_priority(@id::bigint, @priority::integer, @actor::text)::integer AS jobs_updated;
