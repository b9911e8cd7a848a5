// Package gctune sets the garbage collector for olr-sign's batch
// issuing: a process that runs one batch and exits, whose live heap is
// small (a couple of megabytes) and whose garbage is plenty (about 220 KB
// a license). With the runtime's default (GOGC=100) it collects every
// few licenses, each collection marking the same live heap again; letting
// the heap grow to five times its live size collects a quarter as often,
// and a soft memory limit keeps the process's own memory within a
// fixed budget whatever the live heap becomes.
//
// Only commands call it, never the libraries: a program that embeds the
// signer chooses its own trade of memory for CPU.
package gctune

import (
	"os"
	"runtime/debug"
)

const (
	// BatchGCPercent is the GC percent a batch runs with: a collection
	// starts when the heap has grown by four times what the last one
	// left live.
	BatchGCPercent = 400
	// BatchMemoryLimit is the batch's soft memory limit: the memory the
	// Go runtime manages (heap, stacks, its own structures; not SQLite's
	// page cache, which the driver allocates outside it). Near it, the
	// collector runs as often as it must, whatever BatchGCPercent says.
	BatchMemoryLimit = 16 << 20
)

// Batch sets the collector for a batch, unless the environment already
// chose (GOGC or GOMEMLIMIT set: the user's choice wins), and returns a
// function that restores the previous settings.
func Batch() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(BatchMemoryLimit)
	percent := debug.SetGCPercent(BatchGCPercent)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
