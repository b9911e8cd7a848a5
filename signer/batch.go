package signer

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sort"
	"sync"

	"filippo.io/age"

	"github.com/olr-dev/olr/internal/safefile"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// Batch issuing answers a directory of requests at once, the way an OEM
// activating a factory run needs it, in four stages joined by bounded
// channels (so memory does not grow with the number of requests):
//
//  1. feed: the request file names, in name order;
//  2. prepareAll: decryption and Issuer.Prepare (ledger read, binding,
//     signature) on a pool of Workers goroutines;
//  3. recordAll: a single goroutine records the prepared requests with
//     Issuer.Record, TxSize per ledger transaction, in the order of the
//     file names, so that the outcome does not depend on scheduling;
//  4. writeAll: a license file is written only after the transaction
//     that records it has committed, so every license file on disk has
//     its ledger record, whenever the process dies; one transaction's
//     files are written together, each renamed into place, and made
//     durable with one sync of the file system (writeLicenses says why
//     one is enough).
//
// Re-running a batch after a crash is safe: a request already answered is
// a replay and gets the same license bytes back, written again when its
// file is missing or differs; nothing is issued twice; the temporary
// files a killed batch leaves behind are removed.

// Defaults and bounds of batch issuing.
const (
	// DefaultBatchTxSize is how many requests one ledger transaction
	// records: large enough that the commit's fsync is shared, small enough
	// that other olr-sign processes wait little for the write lock.
	DefaultBatchTxSize = 100
	// maxBatchTxSize bounds TxSize, which also bounds the requests held in
	// memory at once.
	maxBatchTxSize = 10_000
	// batchWriters is how many committed transactions have their license
	// files written at once: while one waits for its sync, the other
	// creates its files.
	batchWriters = 2
	// batchOutputs is how many committed transactions' licenses may wait
	// for the writers, so that a slow disk does not stall the ledger.
	batchOutputs = 4
)

// Batch answers every request file of a directory. Its zero values are
// the defaults; Issuer and Operator are required.
type Batch struct {
	Issuer   *Issuer
	Operator string
	// Options are the vendor's choices for every license of the batch.
	Options IssueOptions
	// Identities open the requests; nil means Issuer.Keys.Identity.
	Identities []age.Identity
	// TxSize is how many requests each ledger transaction records (0:
	// DefaultBatchTxSize).
	TxSize int
	// Workers is how many requests are decrypted and signed in parallel
	// (0: runtime.GOMAXPROCS).
	Workers int
	// Progress, when set, is called after each request is answered, with
	// the number answered so far and the total. Calls do not overlap.
	Progress func(done, total int)

	// syncEach makes the run sync each license file before its rename and
	// the directory at the end, as batches did before one sync per
	// transaction (writeLicenses): kept for the benchmarks to compare.
	syncEach bool
}

// BatchEntry is what happened to one request file that was not answered
// (refused, or unreadable), for the summary.
type BatchEntry struct {
	File string // the request file's base name
	// Refused is the policy refusal, when the request was refused.
	Refused *RefusedError
	// Err is the reason the request could not be answered otherwise
	// (unreadable, not for this vendor, malformed).
	Err error
}

// BatchResult sums up a batch.
type BatchResult struct {
	Total    int // request files found
	Issued   int // first activations
	Reissued int // new licenses for an activated machine (old superseded)
	Replayed int // requests answered before: the same license again
	Written  int // license files written (a replay already on disk is not rewritten)
	// Refused lists the refused requests, in file name order.
	Refused []BatchEntry
	// Errors lists the requests that could not be read or decrypted, in
	// file name order.
	Errors []BatchEntry
}

// Answered is the number of requests that have their license.
func (r *BatchResult) Answered() int { return r.Issued + r.Reissued + r.Replayed }

// RefusedByRule groups the refused requests by rule, rules sorted.
func (r *BatchResult) RefusedByRule() (rules []string, byRule map[string][]BatchEntry) {
	byRule = map[string][]BatchEntry{}
	for _, e := range r.Refused {
		if _, ok := byRule[e.Refused.Rule]; !ok {
			rules = append(rules, e.Refused.Rule)
		}
		byRule[e.Refused.Rule] = append(byRule[e.Refused.Rule], e)
	}
	sort.Strings(rules)
	return rules, byRule
}

// batchItem is one request on its way through the pipeline.
type batchItem struct {
	seq  int
	name string
	prep *Prepared
	// err means the file could not be read, decrypted or prepared.
	err error
	// Set by the recorder.
	res     *Result
	refused *RefusedError
}

// errItemFailed makes the recorder roll back a transaction in which one
// request failed for a reason other than a refusal: its writes may be
// half done, so the transaction runs again without it.
var errItemFailed = errors.New("batch item failed")

// batchRun is the state of one Run.
type batchRun struct {
	*Batch
	ctx     context.Context
	cancel  context.CancelCauseFunc
	in, out string
	outDir  *os.File // out, open
	names   []string
	ids     []age.Identity
	txSize  int

	mu   sync.Mutex // guards res and done
	res  *BatchResult
	done int
}

// Run answers every request file of inDir, writing the licenses into
// outDir (created if needed). It returns an error, with the partial
// result, only when the batch cannot go on (the ledger or outDir fails,
// outDir is in use by another batch, ctx is done); refused and unreadable
// requests are listed in the result.
func (b *Batch) Run(ctx context.Context, inDir, outDir string) (*BatchResult, error) {
	if b.Issuer == nil || b.Issuer.Keys == nil || b.Issuer.Ledger == nil {
		return nil, errors.New("batch needs an Issuer with keys and a ledger")
	}
	if err := b.Options.Validate(); err != nil {
		return nil, err
	}
	names, err := RequestFiles(inDir)
	if err != nil {
		return nil, err
	}
	d, release, err := prepareOutDir(outDir)
	if err != nil {
		return nil, err
	}
	defer release()
	r := &batchRun{Batch: b, in: inDir, out: outDir, outDir: d, names: names, res: &BatchResult{Total: len(names)}}
	r.txSize = min(b.TxSize, maxBatchTxSize)
	if r.txSize <= 0 {
		r.txSize = DefaultBatchTxSize
	}
	r.ids = b.Identities
	if r.ids == nil {
		r.ids = []age.Identity{b.Issuer.Keys.Identity}
	}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)
	return r.run()
}

func (r *batchRun) run() (*BatchResult, error) {
	jobs := r.feed()
	prepared := r.prepareAll(jobs)
	outputs := make(chan []licenseOut, batchOutputs)
	written := r.writeAll(outputs)
	if err := r.recordAll(prepared, outputs); err != nil {
		r.cancel(err)
		for range prepared { // let the workers finish
		}
	}
	<-written
	if r.syncEach {
		if err := safefile.SyncDir(r.out); err != nil {
			r.cancel(err)
		}
	}
	// Entries were added in file order per transaction; sort anyway, the
	// summary should not depend on anything else.
	sortEntries(r.res.Refused)
	sortEntries(r.res.Errors)
	return r.res, context.Cause(r.ctx)
}

// answered counts one request as answered, after add updates the result.
func (r *batchRun) answered(add func(*BatchResult)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	add(r.res)
	r.done++
	if r.Progress != nil {
		r.Progress(r.done, len(r.names))
	}
}

// feed is stage 1: the file names, numbered in order.
func (r *batchRun) feed() <-chan batchItem {
	jobs := make(chan batchItem, r.workers())
	go func() {
		defer close(jobs)
		for i, name := range r.names {
			select {
			case jobs <- batchItem{seq: i, name: name}:
			case <-r.ctx.Done():
				return
			}
		}
	}()
	return jobs
}

func (r *batchRun) workers() int {
	if r.Workers > 0 {
		return r.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// prepareAll is stage 2: read, decrypt and prepare, in parallel.
func (r *batchRun) prepareAll(jobs <-chan batchItem) <-chan batchItem {
	prepared := make(chan batchItem, 2*r.txSize)
	var wg sync.WaitGroup
	for range r.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				r.prepare(&it)
				select {
				case prepared <- it:
				case <-r.ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(prepared) }()
	return prepared
}

// prepare reads, decrypts and prepares one request, leaving any failure
// in the item.
func (r *batchRun) prepare(it *batchItem) {
	data, err := ReadRequestFile(r.in, it.name)
	if err != nil {
		it.err = err
		return
	}
	req, err := olr.DecryptRequest(data, r.ids)
	if err != nil {
		it.err = err
		return
	}
	it.prep, it.err = r.Issuer.Prepare(r.ctx, req, &r.Options)
}

// recordAll is stage 3: record the prepared requests in file order,
// txSize per transaction, and pass each committed transaction's licenses
// to the writers. It closes outputs.
func (r *batchRun) recordAll(prepared <-chan batchItem, outputs chan<- []licenseOut) error {
	defer close(outputs)
	pending := map[int]batchItem{} // arrived out of order
	next := 0
	chunk := make([]batchItem, 0, r.txSize)
	for it := range prepared {
		pending[it.seq] = it
		for {
			it, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			chunk = append(chunk, it)
			if len(chunk) == r.txSize {
				if err := r.commit(chunk, outputs); err != nil {
					return err
				}
				chunk = chunk[:0]
			}
		}
	}
	if err := context.Cause(r.ctx); err != nil {
		return err
	}
	return r.commit(chunk, outputs)
}

// commit records one chunk in one transaction, tallies its outcomes and
// hands its licenses to the writers.
func (r *batchRun) commit(chunk []batchItem, outputs chan<- []licenseOut) error {
	if len(chunk) == 0 {
		return nil
	}
	if err := r.record(chunk); err != nil {
		return err
	}
	outs := make([]licenseOut, 0, len(chunk))
	for _, it := range chunk {
		switch {
		case it.err != nil:
			r.answered(func(res *BatchResult) { res.Errors = append(res.Errors, BatchEntry{File: it.name, Err: it.err}) })
		case it.refused != nil:
			r.answered(func(res *BatchResult) {
				res.Refused = append(res.Refused, BatchEntry{File: it.name, Refused: it.refused})
			})
		default:
			r.mu.Lock()
			switch it.res.Outcome {
			case Issued, Transferred:
				r.res.Issued++
			case Reissued:
				r.res.Reissued++
			case Replayed:
				r.res.Replayed++
			}
			r.mu.Unlock()
			// Only a replay can find its file already written.
			outs = append(outs, licenseOut{LicenseName(it.name), it.res.File, it.res.Outcome == Replayed})
		}
	}
	if len(outs) == 0 {
		return nil
	}
	select {
	case outputs <- outs:
		return nil
	case <-r.ctx.Done():
		return context.Cause(r.ctx)
	}
}

// record runs Record for every prepared item of chunk in one ledger
// transaction, filling in each item's result or refusal. A request that
// fails for another reason is set aside (its error recorded) and the
// transaction runs again without it, so that half of its writes never
// commit with the others.
func (r *batchRun) record(chunk []batchItem) error {
	for {
		failed := -1
		var failErr error
		err := r.Issuer.Ledger.UpdateAll(r.ctx, r.Operator, func(tx *ledger.Tx) error {
			// Update may run this more than once: start afresh each time.
			for i := range chunk {
				it := &chunk[i]
				it.res, it.refused = nil, nil
				if it.err != nil {
					continue
				}
				res, err := r.Issuer.Record(tx, it.prep)
				var refused *RefusedError
				switch {
				case errors.As(err, &refused):
					it.refused = refused
				case err != nil:
					failed, failErr = i, err
					return errItemFailed
				default:
					it.res = res
				}
			}
			return nil
		})
		if errors.Is(err, errItemFailed) {
			chunk[failed].err = failErr
			continue
		}
		return err
	}
}

// writeAll is stage 4: write the committed licenses, a transaction's
// worth at a time, on batchWriters goroutines. The returned channel is
// closed when outputs is drained.
func (r *batchRun) writeAll(outputs <-chan []licenseOut) <-chan struct{} {
	finished := make(chan struct{})
	var wg sync.WaitGroup
	for range batchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for outs := range outputs {
				// Written even when the batch is stopping: these
				// licenses are committed.
				err := writeLicenses(r.outDir, outs, r.syncEach, func(wrote bool) {
					r.answered(func(res *BatchResult) {
						if wrote {
							res.Written++
						}
					})
				})
				if err != nil {
					r.cancel(err)
				}
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	return finished
}

func sortEntries(es []BatchEntry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].File < es[j].File })
}
