package jobs

import (
	"context"
	"fmt"

	"github.com/baton-run/baton/internal/engine"
)

// templateRequest asks for the template data of one run; the loader fills
// data or err before the request's batch is answered.
type templateRequest struct {
	runID int64
	data  engine.TemplateData
	err   error
}

// templateLoader reads the upstream results that templates are rendered
// with for many tasks at once: workers that render at the same time share
// one read (two queries) instead of one read each, so rendering holds at
// most templateFlushers connections however many workers render.
type templateLoader struct {
	engine  *engine.Engine
	batcher *batcher[*templateRequest]
}

// templateFlushers is how many batches of template reads run at once.
const templateFlushers = 2

func newTemplateLoader(eng *engine.Engine) *templateLoader {
	l := &templateLoader{engine: eng}
	l.batcher = newBatcher(maxBatch, templateFlushers, l.flush)
	return l
}

// load returns the template data of run runID.
func (l *templateLoader) load(ctx context.Context, runID int64) (engine.TemplateData, error) {
	req := &templateRequest{runID: runID}
	if err := l.batcher.submit(ctx, req); err != nil {
		return engine.TemplateData{}, err
	}
	return req.data, req.err
}

func (l *templateLoader) flush(ctx context.Context, _ int, reqs []*templateRequest) error {
	ids := make([]int64, 0, len(reqs))
	seen := make(map[int64]bool, len(reqs))
	for _, r := range reqs {
		if !seen[r.runID] {
			seen[r.runID] = true
			ids = append(ids, r.runID)
		}
	}
	all, err := l.engine.TemplateDataForRuns(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		data, ok := all[r.runID]
		if !ok {
			r.err = fmt.Errorf("input of run %d: %w", r.runID, engine.ErrNotFound)
			continue
		}
		// Requests for one run share its maps; rendering only reads them.
		r.data = data
	}
	return nil
}
