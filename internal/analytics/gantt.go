package analytics

import (
	"context"
	"fmt"
	"time"
)

// PathTask is one node of the DAG the critical path is computed on.
type PathTask struct {
	Name    string
	Deps    []string
	Elapsed time.Duration
}

// CriticalPath is the longest chain through a DAG and every task's slack.
type CriticalPath struct {
	// Steps is the chain, first task first.
	Steps []string
	// Length is the sum of the chain's elapsed times.
	Length time.Duration
	// Slack holds, per task, how much its elapsed time could grow without
	// lengthening the longest chain: Length minus the longest chain through
	// the task. Tasks on the critical path have slack 0.
	Slack map[string]time.Duration
}

// ComputeCriticalPath returns the longest chain by summed elapsed time
// through the DAG of tasks (edges from each dependency to its dependant)
// and the slack of every task (CPM total float: Length minus the longest
// chain through the task). Dependencies naming no task of the list are
// ignored. Ties go to the task listed first, so the answer is
// deterministic. It fails on a cycle.
func ComputeCriticalPath(tasks []PathTask) (*CriticalPath, error) {
	n := len(tasks)
	index := make(map[string]int, n)
	for i, t := range tasks {
		index[t.Name] = i
	}
	deps := make([][]int, n)
	children := make([][]int, n)
	indegree := make([]int, n)
	for i, t := range tasks {
		for _, d := range t.Deps {
			j, ok := index[d]
			if !ok || j == i {
				continue
			}
			deps[i] = append(deps[i], j)
			children[j] = append(children[j], i)
			indegree[i]++
		}
	}
	// Kahn's algorithm, scanning in list order for determinism.
	order := make([]int, 0, n)
	queue := make([]int, 0, n)
	for i := range tasks {
		if indegree[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		order = append(order, i)
		for _, c := range children[i] {
			if indegree[c]--; indegree[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(order) != n {
		return nil, fmt.Errorf("critical path: the dependencies form a cycle")
	}
	// head[i]: longest chain ending with i (i included); tail[i]: longest
	// chain starting with i (i included).
	head := make([]time.Duration, n)
	tail := make([]time.Duration, n)
	for _, i := range order {
		var best time.Duration
		for _, d := range deps[i] {
			best = max(best, head[d])
		}
		head[i] = best + tasks[i].Elapsed
	}
	for k := n - 1; k >= 0; k-- {
		i := order[k]
		var best time.Duration
		for _, c := range children[i] {
			best = max(best, tail[c])
		}
		tail[i] = best + tasks[i].Elapsed
	}
	out := &CriticalPath{Slack: make(map[string]time.Duration, n)}
	// The chain ends at the task with the longest head; among equals, a
	// task nothing depends on (so zero-length sinks close the chain), then
	// the first listed.
	end := -1
	for i := range tasks {
		if end < 0 || head[i] > head[end] || head[i] == head[end] && len(children[i]) == 0 && len(children[end]) > 0 {
			end = i
		}
	}
	if end < 0 {
		return out, nil
	}
	out.Length = head[end]
	for i, t := range tasks {
		out.Slack[t.Name] = out.Length - (head[i] + tail[i] - t.Elapsed)
	}
	// Walk back from the end through the dependency that gave each head.
	var rev []string
	for i := end; i >= 0; {
		rev = append(rev, tasks[i].Name)
		want := head[i] - tasks[i].Elapsed
		next := -1
		for _, d := range deps[i] {
			if head[d] == want && (next < 0 || d < next) {
				next = d
			}
		}
		if want == 0 && next < 0 {
			break
		}
		i = next
	}
	for k := len(rev) - 1; k >= 0; k-- {
		out.Steps = append(out.Steps, rev[k])
	}
	return out, nil
}

// Attempt is one attempt of a task, from its end event.
type Attempt struct {
	Attempt    int       `json:"attempt"`
	Outcome    string    `json:"outcome" doc:"The event kind: task_succeeded, task_attempt_failed, task_dead or task_attempt_interrupted." example:"task_succeeded"`
	StartedAt  time.Time `json:"started_at" doc:"ended_at minus the attempt's duration."`
	EndedAt    time.Time `json:"ended_at"`
	DurationMs int64     `json:"duration_ms"`
	Node       string    `json:"node,omitempty"`
	Error      string    `json:"error,omitempty"`
	ErrorClass string    `json:"error_class,omitempty"`
}

// GanttTask is one bar of the Gantt chart.
type GanttTask struct {
	ID         int64      `json:"id"`
	Step       string     `json:"step"`
	TaskType   string     `json:"task_type"`
	Status     string     `json:"status"`
	DependsOn  []string   `json:"depends_on"`
	QueuedAt   *time.Time `json:"queued_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Attempts   []Attempt  `json:"attempts"`
	ElapsedMs  int64      `json:"elapsed_ms" doc:"finished_at - queued_at (now - queued_at while unfinished; 0 if never queued): the task's weight on the critical path."`
	SlackMs    int64      `json:"slack_ms" doc:"How much longer the task could have taken without lengthening the critical path; 0 on it."`
	Critical   bool       `json:"critical"`
	// Compensates names the step a compensation task undoes (saga, ADR
	// 0015); empty for the run's own steps.
	Compensates string `json:"compensates,omitempty" doc:"On a compensation task (step compensate:NAME), the step NAME it undoes; absent otherwise."`
}

// Gantt is a run's timeline with its critical path.
type Gantt struct {
	RunID            int64       `json:"run_id"`
	Workflow         string      `json:"workflow"`
	Status           string      `json:"status"`
	CreatedAt        time.Time   `json:"created_at"`
	StartedAt        *time.Time  `json:"started_at"`
	FinishedAt       *time.Time  `json:"finished_at"`
	Tasks            []GanttTask `json:"tasks"`
	CriticalPath     []string    `json:"critical_path" doc:"The longest chain of steps by summed elapsed time, first step first."`
	CriticalLengthMs int64       `json:"critical_path_ms" doc:"The summed elapsed time of the critical path."`
}

// Gantt loads a run's tasks and attempts and computes the critical path.
// A task's elapsed time is finished_at - queued_at: its wait in the queue,
// all its attempts and the backoffs between them; a task still unfinished
// counts until now, one never queued (pending, skipped before it was
// queued) counts 0.
func (s *Service) Gantt(ctx context.Context, runID int64) (*Gantt, error) {
	what := fmt.Sprintf("run %d", runID)
	run, err := s.queries.GanttRun(ctx, s.pool, runID)
	if err != nil {
		return nil, translate(err, what)
	}
	tasks, err := s.queries.GanttTasks(ctx, s.pool, runID)
	if err != nil {
		return nil, translate(err, what)
	}
	attempts, err := s.queries.GanttAttempts(ctx, s.pool, runID)
	if err != nil {
		return nil, translate(err, what)
	}
	byTask := make(map[int64][]Attempt, len(tasks))
	for _, a := range attempts {
		end := a.Time.UTC()
		byTask[a.TaskID] = append(byTask[a.TaskID], Attempt{Attempt: int(a.Attempt), Outcome: a.Kind,
			StartedAt: end.Add(-time.Duration(a.DurationMs) * time.Millisecond), EndedAt: end, DurationMs: a.DurationMs,
			Node: a.Node, Error: a.Error, ErrorClass: a.ErrorClass})
	}
	now := s.now()
	out := &Gantt{RunID: run.ID, Workflow: run.WorkflowName, Status: run.Status, CreatedAt: run.CreatedAt.UTC(),
		StartedAt: utc(run.StartedAt), FinishedAt: utc(run.FinishedAt), Tasks: make([]GanttTask, len(tasks)),
		CriticalPath: []string{}}
	path := make([]PathTask, len(tasks))
	for i, t := range tasks {
		var elapsed time.Duration
		switch {
		case t.QueuedAt == nil:
		case t.FinishedAt != nil:
			elapsed = max(t.FinishedAt.Sub(*t.QueuedAt), 0)
		default:
			elapsed = max(now.Sub(*t.QueuedAt), 0)
		}
		elapsed = elapsed.Truncate(time.Millisecond)
		path[i] = PathTask{Name: t.StepName, Deps: t.DependsOn, Elapsed: elapsed}
		att := byTask[t.ID]
		if att == nil {
			att = []Attempt{}
		}
		deps := t.DependsOn
		if deps == nil {
			deps = []string{}
		}
		out.Tasks[i] = GanttTask{ID: t.ID, Step: t.StepName, TaskType: t.TaskType, Status: t.Status, DependsOn: deps,
			QueuedAt: utc(t.QueuedAt), StartedAt: utc(t.StartedAt), FinishedAt: utc(t.FinishedAt), Attempts: att,
			ElapsedMs: elapsed.Milliseconds(), Compensates: t.Compensates}
	}
	cp, err := ComputeCriticalPath(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	critical := make(map[string]bool, len(cp.Steps))
	for _, s := range cp.Steps {
		critical[s] = true
	}
	out.CriticalPath = append(out.CriticalPath, cp.Steps...)
	out.CriticalLengthMs = cp.Length.Milliseconds()
	for i := range out.Tasks {
		out.Tasks[i].SlackMs = cp.Slack[out.Tasks[i].Step].Milliseconds()
		out.Tasks[i].Critical = critical[out.Tasks[i].Step]
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
