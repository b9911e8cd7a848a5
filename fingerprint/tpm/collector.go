package tpm

import (
	"context"
	"errors"
	"sync"

	"github.com/olr-dev/olr/fingerprint"
)

// Collector adds the TPM factor to a fingerprint.
type Collector struct {
	spec string

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
// nil. ctx bounds the whole collection; without a deadline, opening and
// reading take at most [DefaultTimeout] each.
func (c *Collector) Collect(ctx context.Context, fp *fingerprint.Fingerprint) error {
	t, source, err := OpenContext(ctx, c.spec)
	if errors.Is(err, ErrNoTPM) {
		fp.Notes = append(fp.Notes, err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	defer t.Close()
	info, err := Read(ctx, t)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.info = info
	c.mu.Unlock()
	fp.Add(fingerprint.KindTPMEK, info.EKName, "tpm:"+source+" ("+info.EKAlgorithm+" EK)", false)
	if simulated(source) {
		fp.Notes = append(fp.Notes, "tpm-ek from "+source+" is a software TPM's and identifies no hardware")
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
