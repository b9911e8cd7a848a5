//go:build unix

package safefile

import (
	"errors"
	"syscall"
)

// openNoBlock keeps an open of a FIFO from waiting for a writer and of a
// terminal from becoming the controlling one; it changes nothing for the
// regular files that Open accepts.
const openNoBlock = syscall.O_NONBLOCK | syscall.O_NOCTTY

func syncUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
