-- retry_task queues a dead, failed, cancelled or skipped task again, with
-- new params when given (a JSON object merged over the task's params: keys
-- given replace, keys given as null are removed, others are kept), and lets
-- its run continue from it: dependents skipped because of it run again.
CREATE OR REPLACE FUNCTION baton.retry_task(task_id bigint, params jsonb DEFAULT NULL, actor text DEFAULT current_user)
RETURNS boolean
LANGUAGE sql AS $$
    SELECT baton._retry(task_id, params, actor, 'task_retried');
$$;
