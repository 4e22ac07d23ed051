package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/baton-run/baton/internal/dbsqlc"
)

// Queue is the state of a River queue as operators see it.
type Queue struct {
	Name      string
	PausedAt  *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RecordQueueActionTx writes the event of an operator's action on a queue
// (kind queue_paused or queue_resumed) inside tx, and notifies listeners.
func (e *Engine) RecordQueueActionTx(ctx context.Context, tx pgx.Tx, kind, queue, actor string) error {
	data, err := json.Marshal(map[string]string{"queue": queue})
	if err != nil {
		return fmt.Errorf("encode event data: %w", err)
	}
	err = e.queries.TaskEventInsertSystem(ctx, tx, &dbsqlc.TaskEventInsertSystemParams{
		Kind: kind, Queue: &queue, Actor: nonEmpty(actorOrDefault(actor)), Data: data,
	})
	return translateError(err, "record queue action")
}
