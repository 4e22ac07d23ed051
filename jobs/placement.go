package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/engine"
	"github.com/baton-run/baton/internal/executor"
)

// maxPlacementSnoozes bounds how many times a task that does not fit its
// node's free capacity is snoozed (about 5 to 12 minutes at 200–500 ms)
// before it fails for good: no node had room for it in that time.
const maxPlacementSnoozes = 1500

// noRoom handles a task whose resources do not fit this node's free
// capacity: it snoozes the job for 200–500 ms (jittered, using no attempt)
// so that a node with room takes it, and fails the task permanently once it
// was snoozed maxPlacementSnoozes times.
func (w *TaskWorker) noRoom(ctx context.Context, job *river.Job[engine.TaskArgs]) error {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // River's own snooze counter
	if meta.Snoozes >= maxPlacementSnoozes {
		err := executor.Permanent(fmt.Errorf("step %q needs %s and no node had room for it after %d tries; node %q has %s",
			job.Args.Step, job.Args.Resources, meta.Snoozes, w.node, w.placement.Capacity()))
		return w.fail(ctx, job, engine.Attempt{TaskID: job.Args.TaskID, Attempt: job.Attempt, Node: w.node, StartedAt: time.Now()}, err)
	}
	return river.JobSnooze(200*time.Millisecond + rand.N(300*time.Millisecond))
}
