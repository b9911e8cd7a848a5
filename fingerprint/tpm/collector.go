package tpm

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/olr-dev/olr/fingerprint"
)

// Collector adds the TPM factor to a fingerprint.
type Collector struct {
	spec string
	// Timeout bounds opening the TPM, and then reading it, each within the
	// deadline of the context given to Collect; zero means
	// [DefaultTimeout]. A stuck TPM then fails on its own instead of using
	// up the time of the whole fingerprint.
	Timeout time.Duration
	// Hold keeps the TPM open and the endorsement key loaded after
	// Collect, so that [Collector.Prover] proves a TPM-bound license
	// without opening the TPM and making the EK again (on a real TPM the
	// EK costs the most). [Collector.Close] releases them.
	Hold bool

	mu     sync.Mutex
	info   *Info
	held   transport.TPMCloser
	prover *Prover
}

var _ fingerprint.Collector = (*Collector)(nil)

// NewCollector returns a collector for the TPM that spec selects (see
// [Open]).
func NewCollector(spec string) *Collector { return &Collector{spec: spec} }

// Name implements [fingerprint.Collector].
func (c *Collector) Name() string { return "tpm" }

// Collect opens the TPM, reads its EK Name and adds it as a
// [fingerprint.KindTPMEK] factor. Without a TPM it adds a note and returns
// nil. Opening and reading take at most [Collector.Timeout] each.
func (c *Collector) Collect(ctx context.Context, fp *fingerprint.Fingerprint) error {
	timeout := c.timeout()
	octx, cancel := context.WithTimeout(ctx, timeout)
	t, source, err := OpenContext(octx, c.spec)
	cancel()
	if errors.Is(err, ErrNoTPM) {
		fp.Notes = append(fp.Notes, err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var info *Info
	var ek *loadedEK
	if c.Hold {
		err = bounded(rctx, t, "reading TPM", func(bt transport.TPM) error {
			var err error
			info, ek, err = readHolding(bt)
			return err
		})
		if info != nil {
			info.Source = source
		}
	} else {
		info, err = Read(rctx, t)
	}
	if err != nil {
		t.Close()
		return err
	}
	c.mu.Lock()
	c.info = info
	if c.Hold {
		c.release()
		c.held = t
		c.prover = &Prover{spec: c.spec, timeout: timeout, t: t, eks: map[string]*loadedEK{ek.kind.Name: ek}}
	} else {
		t.Close()
	}
	c.mu.Unlock()
	fp.Add(fingerprint.KindTPMEK, info.EKName, "tpm:"+source+" ("+info.EKAlgorithm+" EK)", false)
	if simulated(source) {
		fp.Notes = append(fp.Notes, "tpm-ek from "+source+" comes from a software TPM and identifies no hardware")
	}
	return nil
}

func (c *Collector) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// Info returns what the last successful [Collector.Collect] read from the
// TPM (manufacturer, firmware, EK certificate), for audits; nil before.
func (c *Collector) Info() *Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Prover returns the prover of TPM-bound licenses for this collector's
// TPM. After a Collect with Hold it shares the open TPM and its EK;
// otherwise it opens the TPM for each proof. Without a TPM its proofs
// fail as unavailable. It is never nil.
func (c *Collector) Prover() *Prover {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prover != nil {
		return c.prover
	}
	return NewProver(c.spec, c.timeout())
}

// Endorsement reads what a TPM-bound request carries (see
// [ReadEndorsement]): from the TPM a Hold collector keeps open, else from
// a fresh open of its spec. Without a TPM it returns an error wrapping
// [ErrNoTPM]. It takes at most the collector's timeout for opening and
// ctx's deadline, or [DefaultTimeout], for reading.
func (c *Collector) Endorsement(ctx context.Context) (*Endorsement, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held != nil {
		c.prover.mu.Lock()
		defer c.prover.mu.Unlock()
		return ReadEndorsement(ctx, c.held)
	}
	octx, cancel := context.WithTimeout(ctx, c.timeout())
	t, _, err := OpenContext(octx, c.spec)
	cancel()
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return ReadEndorsement(ctx, t)
}

// Close flushes the EKs a Hold collector keeps loaded and closes its TPM.
// Its prover then opens the TPM for each proof. Close is safe to call
// more than once, and without Hold.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.release()
}

func (c *Collector) release() error {
	if c.held == nil {
		return nil
	}
	p, t := c.prover, c.held
	c.prover, c.held = nil, nil
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	err := bounded(ctx, t, "releasing the TPM", p.releaseEKs)
	// A proof still holding this prover opens the TPM itself from now on.
	p.t = nil
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	return err
}
