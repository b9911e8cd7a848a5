//go:build !unix && !windows

package store

import "os"

const openNoBlock = 0

// lockFile does nothing where the platform has no file locks: changes are
// still atomic, only not serialised.
func lockFile(*os.File, bool) error { return nil }

func unlock(*os.File) {}
