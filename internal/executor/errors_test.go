package executor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClassOf(t *testing.T) {
	t.Parallel()

	base := errors.New("boom")
	tests := []struct {
		name  string
		err   error
		class Class
		after time.Duration
	}{
		{"nil", nil, "", 0},
		{"plain", base, ClassTransient, 0},
		{"deadline", context.DeadlineExceeded, ClassTransient, 0},
		{"wrapped deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), ClassTransient, 0},
		{"permanent", Permanent(base), ClassPermanent, 0},
		{"transient", Transient(base), ClassTransient, 0},
		{"wrapped permanent", fmt.Errorf("step: %w", Permanent(base)), ClassPermanent, 0},
		{"outermost wins", Transient(Permanent(base)), ClassTransient, 0},
		{"outermost wins 2", Permanent(WithRetryAfter(base, time.Second)), ClassPermanent, 0},
		{"retry after", WithRetryAfter(base, 7*time.Second), ClassTransient, 7 * time.Second},
		{"wrapped retry after", fmt.Errorf("x: %w", WithRetryAfter(base, time.Minute)), ClassTransient, time.Minute},
		{"negative retry after", WithRetryAfter(base, -time.Second), ClassTransient, 0},
		{"empty class", &Error{Err: base}, ClassTransient, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.class, ClassOf(tt.err))
			require.Equal(t, tt.after, RetryAfterOf(tt.err))
		})
	}
}

func TestErrorWrapping(t *testing.T) {
	t.Parallel()

	base := errors.New("boom")
	require.NoError(t, Permanent(nil))
	require.NoError(t, Transient(nil))
	require.NoError(t, WithRetryAfter(nil, time.Second))

	err := Permanent(base)
	require.ErrorIs(t, err, base)
	require.Equal(t, "boom", err.Error())
	require.Equal(t, "permanent error", (&Error{Class: ClassPermanent}).Error())
}
