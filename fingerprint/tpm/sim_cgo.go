//go:build cgo

package tpm

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/google/go-tpm-tools/simulator"
)

// simSeed seeds the in-process simulator's hierarchies. A fixed seed gives
// the same EK in every process, so that a demo can fingerprint, license and
// verify across runs; a simulator identifies no machine either way.
const simSeed = 0x6f6c72 // "olr"

// simLink is the reference simulator linked into this process. There is
// one per process: a second open waits until the first is closed.
type simLink struct {
	mu  sync.Mutex // the simulator is not safe for concurrent use
	sim *simulator.Simulator
}

func openSim(ctx context.Context, budget time.Duration) (*conn, error) {
	type result struct {
		sim *simulator.Simulator
		err error
	}
	got := make(chan result, 1)
	go func() {
		s, err := simulator.GetWithFixedSeedInsecure(simSeed)
		got <- result{s, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			return nil, &OpenError{Source: simSource, Err: r.err}
		}
		return newConn(simSource, &simLink{sim: r.sim}), nil
	case <-ctx.Done():
		// Release the simulator as soon as the waiting open gets it.
		go func() {
			if r := <-got; r.err == nil {
				r.sim.Close()
			}
		}()
		return nil, &OpenError{Source: simSource,
			Err: errors.New("the in-process TPM simulator stayed in use by another caller for " + budget.String())}
	}
}

func (s *simLink) exchange(_ time.Time, cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.sim.Write(cmd); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(s.sim, maxResponse))
}

func (s *simLink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sim.Close()
}
