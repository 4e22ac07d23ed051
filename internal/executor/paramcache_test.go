package executor

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParamCache: params seen before are not parsed again (errors
// included), large params are never kept, and a full cache starts over.
func TestParamCache(t *testing.T) {
	t.Parallel()
	var c paramCache[string]
	calls := 0
	parse := func(p json.RawMessage) (string, error) {
		calls++
		if strings.Contains(string(p), "bad") {
			return "", errors.New("bad params")
		}
		return string(p), nil
	}
	for range 3 {
		v, err := c.parse(json.RawMessage(`{"a":1}`), parse)
		require.NoError(t, err)
		require.Equal(t, `{"a":1}`, v)
		_, err = c.parse(json.RawMessage(`{"bad":1}`), parse)
		require.EqualError(t, err, "bad params")
	}
	require.Equal(t, 2, calls, "each distinct params parsed once")

	big := json.RawMessage(`{"x":"` + strings.Repeat("y", maxCachedParams) + `"}`)
	for range 2 {
		_, err := c.parse(big, parse)
		require.NoError(t, err)
	}
	require.Equal(t, 4, calls, "large params are parsed each time")

	for i := range paramCacheEntries + 1 {
		_, _ = c.parse(json.RawMessage(`{"n":`+strings.Repeat("1", 1+i%7)+`,"i":"`+string(rune('a'+i%26))+strings.Repeat("z", i/26)+`"}`), parse)
	}
	require.LessOrEqual(t, len(c.entries), paramCacheEntries)
}

// TestParamCacheConcurrent: many workers share one cache (go test -race).
func TestParamCacheConcurrent(t *testing.T) {
	t.Parallel()
	var c paramCache[width]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				p := json.RawMessage(`{"k":` + string(rune('0'+(i+j)%10)) + `}`)
				v, err := c.parse(p, func(p json.RawMessage) (width, error) { return width(len(p)), nil })
				require.NoError(t, err)
				require.Equal(t, width(len(p)), v)
			}
		}()
	}
	wg.Wait()
}

// width is a parsed value of the concurrent test.
type width int
