package testdb

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// holder is a testing.TB whose cleanups run when the test says so, so that
// one test can hold several databases and give them back one by one.
type holder struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (h *holder) Cleanup(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cleanups = append(h.cleanups, f)
}

// release runs the cleanups, last registered first, as testing does.
func (h *holder) release() {
	h.mu.Lock()
	fs := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// TestNewWaitsWhileMaxOpenDatabasesAreOpen checks the bound on the test
// databases one process keeps (and so on its connections): beyond
// MaxOpenDatabases, New waits until one is dropped.
func TestNewWaitsWhileMaxOpenDatabasesAreOpen(t *testing.T) {
	holders := make([]*holder, MaxOpenDatabases)
	for i := range holders {
		holders[i] = &holder{TB: t}
		New(holders[i])
	}
	t.Cleanup(func() {
		for _, h := range holders {
			h.release()
		}
	})

	extra := &holder{TB: t}
	t.Cleanup(extra.release)
	created := make(chan string, 1)
	go func() { created <- New(extra) }()

	// Nothing can announce that New is waiting, so give it a moment to
	// (wrongly) create the database.
	select {
	case url := <-created:
		t.Fatalf("New created %s while %d test databases were open; want it to wait", redact(url), MaxOpenDatabases)
	case <-time.After(500 * time.Millisecond):
	}

	holders[0].release()
	select {
	case <-created:
	case <-time.After(time.Minute):
		t.Fatal("New still waits after a test database was dropped")
	}
}
