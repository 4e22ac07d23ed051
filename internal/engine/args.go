package engine

// TaskKind is the River job kind of Baton tasks. Jobs of this kind are
// inserted by baton._enqueue in SQL, so the kind and the argument fields
// below must match that function.
const TaskKind = "baton_task"

// TaskArgs are the River job arguments of one task attempt.
type TaskArgs struct {
	TaskID int64 `json:"task_id"`
	RunID  int64 `json:"run_id"`
}

// Kind implements river.JobArgs.
func (TaskArgs) Kind() string { return TaskKind }
