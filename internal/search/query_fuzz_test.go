package search_test

import (
	"net/url"
	"testing"

	"github.com/baton-run/baton/internal/search"
)

// FuzzParseQuery: any query string parses to a query or to problems naming
// parameters, never panics, and a valid query survives Encode and parse
// unchanged (what saved searches and bookmarks rely on).
func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		"", "status=failed,cancelled&q=%22card+declined%22+-test", "sort=duration&min_duration_ms=5&limit=7",
		"tags_all=a,b&tags_any=c&created_from=2026-12-01T10:00:00Z&finished_to=2026-12-02T00:00:00.5%2B01:00",
		"priority=9&sort=cost&nope=1", "step=a&step_status=dead&batch=3&owner=x&trigger=api&workflow=w",
		"status=&q=%00", "limit=0", "cursor=abc",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := search.ParseQuery(v)
		if err != nil {
			return
		}
		q.Cursor = ""
		back, err := url.ParseQuery(q.Encode())
		if err != nil {
			t.Fatalf("Encode gave a bad query string %q: %v", q.Encode(), err)
		}
		again, err := search.ParseQuery(back)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", raw, q.Encode(), err)
		}
		if q.Encode() != again.Encode() {
			t.Fatalf("round trip changed the query: %q -> %q", q.Encode(), again.Encode())
		}
	})
}
