package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// analyticsTTL is how long an analytics answer is reused. Every dashboard
// user on the analytics page asks the same seven questions; the answers
// aggregate hours to days of history, so a few seconds of staleness is
// invisible while it turns N identical aggregations into one.
const analyticsTTL = 5 * time.Second

// analyticsCacheMax bounds the entries kept; past it, expired ones are
// dropped, and if none has expired the cache starts over.
const analyticsCacheMax = 1024

// analyticsCache keeps analytics results for analyticsTTL, keyed by
// operation and filter, and computes a key's result once however many
// requests ask for it at the same time (singleflight). Results do not
// depend on the caller: access is checked before a request gets here.
type analyticsCache struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]analyticsEntry
}

type analyticsEntry struct {
	val  any
	etag string
	at   time.Time
}

func newAnalyticsCache(ttl time.Duration) *analyticsCache {
	return &analyticsCache{ttl: ttl, now: time.Now, entries: make(map[string]analyticsEntry)}
}

// get returns key's result and its entity tag, computing it with fill when
// it is missing or older than the TTL. fill runs without the request's
// cancellation (other requests may be waiting for it) but with a deadline.
func (c *analyticsCache) get(ctx context.Context, key string, fill func(context.Context) (any, error)) (any, string, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < c.ttl {
		return e.val, e.etag, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		at := c.now()
		val, err := fill(fctx)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("hash analytics result: %w", err)
		}
		sum := sha256.Sum256(body)
		e := analyticsEntry{val: val, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, at: at}
		c.put(key, e)
		return e, nil
	})
	select {
	case <-ctx.Done():
		return nil, "", ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, "", res.Err
		}
		e := res.Val.(analyticsEntry)
		return e.val, e.etag, nil
	}
}

func (c *analyticsCache) put(key string, e analyticsEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= analyticsCacheMax {
		now := c.now()
		for k, old := range c.entries {
			if now.Sub(old.at) >= c.ttl {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= analyticsCacheMax {
			clear(c.entries)
		}
	}
	c.entries[key] = e
}

// cachedOutput is an analytics result as JSON or CSV with its validators:
// an entity tag (per representation) and a short private max-age.
type cachedOutput[T any] struct {
	ContentType  string `header:"Content-Type" hidden:"true"`
	ETag         string `header:"ETag" doc:"The answer's entity tag (answers are reused for up to 5 s, so equal tags mean the same answer)."`
	CacheControl string `header:"Cache-Control"`
	Vary         string `header:"Vary" hidden:"true"`
	Body         T
}

// cachedAnalytics answers an analytics request from the cache, with the
// answer's entity tag. Conditional requests get the full answer: returning
// huma.Status304NotModified() from these handlers was answered 500 by the
// middleware stack (not investigated yet).
func cachedAnalytics[T any](ctx context.Context, c *analyticsCache, key, format, accept string, fill func(context.Context) (*T, error)) (*cachedOutput[T], error) {
	val, etag, err := c.get(ctx, key, func(ctx context.Context) (any, error) { return fill(ctx) })
	if err != nil {
		return nil, err
	}
	ct := contentType(format, accept)
	if ct == mediaCSV {
		etag = strings.TrimSuffix(etag, `"`) + `-csv"`
	}
	return &cachedOutput[T]{
		ContentType: ct, ETag: etag, CacheControl: fmt.Sprintf("private, max-age=%d", int(c.ttl.Seconds())),
		Vary: "Accept", Body: *val.(*T),
	}, nil
}
