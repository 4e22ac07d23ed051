package search

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/baton-run/baton/internal/dbsqlc"
	"github.com/baton-run/baton/internal/engine"
)

// Saved is a saved search: a name and the query string of the search.
type Saved struct {
	ID        int64
	Name      string
	OwnerKey  string // the API key that saved it ("" before keys exist)
	Shared    bool   // visible to every key
	Query     string // the query string, as GET /v2/runs takes it
	CreatedAt time.Time
}

func savedFrom(r *dbsqlc.BatonSavedSearch) *Saved {
	return &Saved{ID: r.ID, Name: r.Name, OwnerKey: r.OwnerKey, Shared: r.Shared, Query: r.Query, CreatedAt: r.CreatedAt}
}

// Save stores a search under name for ownerKey. The query is validated and
// stored in its canonical form.
func (s *Service) Save(ctx context.Context, ownerKey, name string, shared bool, q Query) (*Saved, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, &engine.ValidationError{Problems: []engine.Problem{{Field: "name", Message: "must be 1 to 200 characters"}}}
	}
	row, err := s.queries.SavedSearchInsert(ctx, s.pool, &dbsqlc.SavedSearchInsertParams{
		Name: name, OwnerKey: ownerKey, Shared: shared, Query: q.Encode(),
	})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("saved search %q", name))
	}
	return savedFrom(row), nil
}

// List returns the searches ownerKey saved or that are shared, by name.
func (s *Service) List(ctx context.Context, ownerKey string) ([]*Saved, error) {
	rows, err := s.queries.SavedSearchList(ctx, s.pool, ownerKey)
	if err != nil {
		return nil, dbError(err, "saved searches")
	}
	out := make([]*Saved, len(rows))
	for i, r := range rows {
		out[i] = savedFrom(r)
	}
	return out, nil
}

// Get returns a search ownerKey saved or that is shared.
func (s *Service) Get(ctx context.Context, ownerKey string, id int64) (*Saved, error) {
	row, err := s.queries.SavedSearchGet(ctx, s.pool, &dbsqlc.SavedSearchGetParams{ID: id, OwnerKey: ownerKey})
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("saved search %d", id))
	}
	return savedFrom(row), nil
}

// Run runs a saved search (cursor pages it).
func (s *Service) Run(ctx context.Context, ownerKey string, id int64, cursor string) (*Saved, *Page, error) {
	saved, err := s.Get(ctx, ownerKey, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := url.ParseQuery(saved.Query)
	if err != nil {
		return nil, nil, fmt.Errorf("saved search %d: %w", id, err)
	}
	q, err := ParseQuery(v)
	if err != nil {
		return nil, nil, err
	}
	q.Cursor = cursor
	page, err := s.Search(ctx, q)
	return saved, page, err
}

// Delete removes a search ownerKey saved.
func (s *Service) Delete(ctx context.Context, ownerKey string, id int64) error {
	n, err := s.queries.SavedSearchDelete(ctx, s.pool, &dbsqlc.SavedSearchDeleteParams{ID: id, OwnerKey: ownerKey})
	if err != nil {
		return dbError(err, fmt.Sprintf("saved search %d", id))
	}
	if n == 0 {
		return fmt.Errorf("saved search %d not found: %w", id, engine.ErrNotFound)
	}
	return nil
}
