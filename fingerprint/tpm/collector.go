package tpm

import (
	"context"
	"errors"
	"sync"
	"time"

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

	mu   sync.Mutex
	info *Info
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
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
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
	defer t.Close()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := Read(rctx, t)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.info = info
	c.mu.Unlock()
	fp.Add(fingerprint.KindTPMEK, info.EKName, "tpm:"+source+" ("+info.EKAlgorithm+" EK)", false)
	if simulated(source) {
		fp.Notes = append(fp.Notes, "tpm-ek from "+source+" comes from a software TPM and identifies no hardware")
	}
	return nil
}

// Info returns what the last successful [Collector.Collect] read from the
// TPM (manufacturer, firmware, EK certificate), for audits; nil before.
func (c *Collector) Info() *Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}
