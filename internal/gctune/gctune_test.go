package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestBatch(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	restore := Batch()
	if got := debug.SetGCPercent(-1); got != BatchGCPercent {
		t.Errorf("GC percent %d during a batch, want %d", got, BatchGCPercent)
	}
	debug.SetGCPercent(BatchGCPercent)
	if got := debug.SetMemoryLimit(-1); got != BatchMemoryLimit {
		t.Errorf("memory limit %d during a batch, want %d", got, BatchMemoryLimit)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d after the batch, want 100 again", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d after the batch, want none again", got)
	}
}

// The user's GOGC or GOMEMLIMIT wins: Batch changes nothing.
func TestBatchEnvironmentWins(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", "")
			t.Setenv(env, "off")
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			defer Batch()()
			if got := debug.SetGCPercent(100); got != 100 {
				t.Errorf("GC percent %d with %s set, want 100", got, env)
			}
			if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
				t.Errorf("memory limit %d with %s set, want none", got, env)
			}
		})
	}
}
