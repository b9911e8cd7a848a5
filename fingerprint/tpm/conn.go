package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// maxResponse bounds a TPM response. TPMs answer at most a few KiB
// (MAX_RESPONSE_SIZE is 4096 on most); the bound keeps a confused peer
// from making olr allocate much.
const maxResponse = 64 << 10

// link is a raw connection to a TPM: one command, one response.
type link interface {
	// exchange sends cmd and returns the response. It honours deadline
	// itself where it can (sockets); conn bounds it in any case.
	exchange(deadline time.Time, cmd []byte) ([]byte, error)
	close() error
}

// conn is the [transport.TPMCloser] that [Open] returns. It bounds every
// exchange in time: the exchange runs in its own goroutine, and a caller
// whose deadline passes gets an error while the goroutine waits on. Until
// that late exchange ends, conn refuses new commands (they would interleave
// with it), so a stuck TPM keeps failing fast instead of piling up callers.
type conn struct {
	source string
	link   link
	// busy holds a token while an exchange is in flight.
	busy      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ transport.TPMCloser = (*conn)(nil)

func newConn(source string, l link) *conn {
	return &conn{source: source, link: l, busy: make(chan struct{}, 1)}
}

// Send implements [transport.TPM], bounded by [DefaultTimeout].
func (c *conn) Send(cmd []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	rsp, err := c.send(ctx, cmd)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, &TimeoutError{Source: c.source, After: DefaultTimeout}
	}
	return rsp, err
}

// Close closes the connection. On a device or a socket, a command still
// in flight fails; the in-process simulator finishes it first.
func (c *conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.link.close() })
	return c.closeErr
}

// Response codes after which the TPM asks to be asked again.
const (
	rcYielded = 0x908
	rcTesting = 0x90A
	rcRetry   = 0x922
)

// send runs one command, retrying while the TPM answers "busy, retry"
// (as the kernel and tpm2-tss do), until ctx ends.
func (c *conn) send(ctx context.Context, cmd []byte) ([]byte, error) {
	backoff := 10 * time.Millisecond
	for {
		rsp, err := c.sendOnce(ctx, cmd)
		if err != nil {
			return nil, err
		}
		// A response starts with tag (2 bytes), size (4), code (4).
		if len(rsp) < 10 || binary.BigEndian.Uint32(rsp[2:6]) != uint32(len(rsp)) {
			return nil, fmt.Errorf("malformed TPM response (%d bytes)", len(rsp))
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcYielded, rcTesting, rcRetry:
		default:
			return rsp, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func (c *conn) sendOnce(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // select below would pick a ready case at random
	}
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	type result struct {
		rsp []byte
		err error
	}
	done := make(chan result, 1)
	deadline, _ := ctx.Deadline()
	go func() {
		defer func() { <-c.busy }()
		rsp, err := c.link.exchange(deadline, cmd)
		done <- result{rsp, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && errors.Is(r.err, os.ErrDeadlineExceeded) {
			return nil, context.DeadlineExceeded
		}
		return r.rsp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// boundTPM is a [transport.TPM] whose every command is bounded by ctx, for
// the go-tpm command API, which takes no context.
type boundTPM struct {
	c   *conn
	ctx context.Context
}

func (b boundTPM) Send(cmd []byte) ([]byte, error) { return b.c.send(b.ctx, cmd) }

// foreignLink adapts a transport that [Open] did not make, such as a
// test's simulator, so that conn can bound it.
type foreignLink struct{ t transport.TPM }

func (f foreignLink) exchange(_ time.Time, cmd []byte) ([]byte, error) { return f.t.Send(cmd) }
func (f foreignLink) close() error                                     { return nil }

// deviceLink is a TPM character device (/dev/tpmrm0, /dev/tpm0) in
// blocking mode (see openDevice). The Linux driver then runs the whole
// command in write and hands the whole response to the next read.
type deviceLink struct{ f *os.File }

func (d *deviceLink) exchange(_ time.Time, cmd []byte) ([]byte, error) {
	if _, err := d.f.Write(cmd); err != nil {
		return nil, fmt.Errorf("sending the command: %w", err)
	}
	buf := make([]byte, maxResponse)
	n, err := d.f.Read(buf)
	switch {
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("receiving the response: %w", err)
	case n == 0:
		return nil, errors.New("the device sent no response")
	}
	return buf[:n], nil
}

func (d *deviceLink) close() error { return d.f.Close() }
