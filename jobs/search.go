package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/baton-run/baton/internal/search"
)

// SearchIndexArgs are the arguments of the periodic job that writes the
// full-text documents of runs started or ended since its last run
// (search.Service.Index).
type SearchIndexArgs struct{}

// Kind implements river.JobArgs.
func (SearchIndexArgs) Kind() string { return "baton_search_index" }

// SearchIndexWorker runs search.Service.Index.
type SearchIndexWorker struct {
	river.WorkerDefaults[SearchIndexArgs]

	Search *search.Service
	Logger *slog.Logger
}

// Work implements river.Worker.
func (w *SearchIndexWorker) Work(ctx context.Context, _ *river.Job[SearchIndexArgs]) error {
	n, err := w.Search.Index(ctx)
	if err == nil && n > 0 {
		w.Logger.DebugContext(ctx, "runs indexed for search", slog.Int("runs", n))
	}
	return err
}

// addSearchJobs registers the indexer, every second and unique per second
// across nodes.
func addSearchJobs(cfg *river.Config, workers *river.Workers, svc *search.Service, logger *slog.Logger) {
	river.AddWorker(workers, &SearchIndexWorker{Search: svc, Logger: logger})
	cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(time.Second),
		func() (river.JobArgs, *river.InsertOpts) {
			return SearchIndexArgs{}, &river.InsertOpts{Priority: 2, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByPeriod: time.Second}}
		}, &river.PeriodicJobOpts{RunOnStart: true}))
}
