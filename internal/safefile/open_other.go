//go:build !unix

package safefile

const openNoBlock = 0

// Directories cannot be synced on these systems; the rename itself is the
// most that can be done.
func syncUnsupported(error) bool { return true }
