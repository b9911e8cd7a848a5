//go:build !linux

package host

import "errors"

func permAddr(string) (string, error) { return "", errors.ErrUnsupported }
