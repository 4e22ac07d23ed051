package executor

import (
	"encoding/json"
	"sync"
)

// paramCache remembers how params parsed, by their bytes. The tasks of a
// step share their params (unless templates make them differ per run), so
// most attempts find theirs already parsed: decoding the JSON again on every
// attempt cost more than the rest of a quick task's execution, and deep
// decoding grew each worker goroutine's stack. Values are shared by every
// attempt with the same params, so they must not be changed.
type paramCache[T any] struct {
	mu      sync.Mutex
	entries map[string]parsedParams[T]
}

type parsedParams[T any] struct {
	value T
	err   error
}

const (
	// paramCacheEntries bounds the cache; a full cache starts over.
	paramCacheEntries = 1024
	// maxCachedParams is the size of the largest params remembered.
	maxCachedParams = 4 << 10
)

// parse returns parse(params), from the cache when params were seen before.
func (c *paramCache[T]) parse(params json.RawMessage, parse func(json.RawMessage) (T, error)) (T, error) {
	if len(params) > maxCachedParams {
		return parse(params)
	}
	c.mu.Lock()
	e, ok := c.entries[string(params)]
	c.mu.Unlock()
	if ok {
		return e.value, e.err
	}
	v, err := parse(params)
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= paramCacheEntries {
		c.entries = make(map[string]parsedParams[T], 64)
	}
	c.entries[string(params)] = parsedParams[T]{value: v, err: err}
	c.mu.Unlock()
	return v, err
}
