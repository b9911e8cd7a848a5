//go:build !cgo

package tpm

import (
	"context"
	"errors"
	"time"
)

func openSim(context.Context, time.Duration) (*conn, error) {
	return nil, errors.New("this build of olr has no TPM simulator (built without cgo); use --tpm mssim:HOST:PORT with swtpm")
}
