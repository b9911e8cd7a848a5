package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"filippo.io/age"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// Batch issuing answers a directory of requests at once, the way an OEM
// activating a factory run needs it:
//
//   - decryption and Prepare (ledger read, binding, signature) run on a
//     pool of Workers goroutines;
//   - a single goroutine records the prepared licenses with Record, TxSize
//     requests per ledger transaction, in the order of the file names, so
//     that the outcome of a batch does not depend on scheduling;
//   - a license file is written (temporary file, fsync, rename) only after
//     the transaction that records it has committed, so every license file
//     on disk has its ledger record, whenever the process dies; the files
//     of one transaction are created, then fsynced together, then renamed
//     (writeLicenses), and the directory is fsynced once at the end.
//
// Re-running a batch after a crash is safe: a request already answered is
// a replay (Tx.LicenseByRequest) and gets the same license bytes back,
// written again when its file is missing or differs; nothing is issued
// twice; the temporary files a killed batch leaves behind are removed.
// Every stage is joined by a bounded channel, so memory does not grow
// with the number of requests.

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
	// files written at once: while one waits for its fsyncs, the other
	// creates its files.
	batchWriters = 2
	// batchSyncs is how many fsyncs of one transaction's license files
	// are in flight at once: they wait for the disk, not the CPU, and the
	// file system commits concurrent ones together.
	batchSyncs = 32
	// batchOutputs is how many committed transactions' licenses may wait
	// for the writers, so that a slow disk does not stall the ledger.
	batchOutputs = 4
	// RequestExt names the files a batch answers.
	RequestExt = ".olr"
	// LicenseExt ends the name of each license file a batch writes.
	LicenseExt = ".license.olr"
)

// Batch answers every request file of a directory. Its zero values are
// the defaults; Issuer and Operator are required.
type Batch struct {
	Issuer   *Issuer
	Operator string
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

// LicenseName returns the name of the license file answering the request
// file name: "acme-01.olr" gives "acme-01.license.olr".
func LicenseName(requestName string) string {
	return strings.TrimSuffix(requestName, RequestExt) + LicenseExt
}

// IsRequestName reports whether a batch answers a file of this name: it
// ends in .olr, is not a license a batch wrote, and is not hidden.
func IsRequestName(name string) bool {
	return strings.HasSuffix(name, RequestExt) && !strings.HasSuffix(name, LicenseExt) &&
		!strings.HasPrefix(name, ".")
}

// RequestFiles lists the request files of dir, sorted by name.
func RequestFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !IsRequestName(e.Name()) {
			continue
		}
		if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// batchItem is one request on its way through the pipeline.
type batchItem struct {
	seq  int
	name string
	req  *olr.Request
	prep *Prepared
	// prepErr is Prepare's error: the request may still be a replay.
	prepErr error
	// err means the file could not be read or decrypted.
	err error
	// Set by the recorder.
	res     *Result
	refused *RefusedError
}

// errItemFailed makes the recorder roll back a transaction in which one
// request failed for a reason other than a refusal: its writes may be
// half done, so the transaction runs again without it.
var errItemFailed = errors.New("signer: batch item failed")

// Run answers every request file of inDir, writing the licenses into
// outDir (created if needed). It returns an error, with the partial
// result, only when the batch cannot go on (the ledger or outDir fails,
// ctx is done); refused and unreadable requests are listed in the result.
func (b *Batch) Run(ctx context.Context, inDir, outDir string) (*BatchResult, error) {
	names, err := RequestFiles(inDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	if err := removeStaleTemps(outDir); err != nil {
		return nil, err
	}
	return b.run(ctx, inDir, outDir, names)
}

func (b *Batch) run(ctx context.Context, inDir, outDir string, names []string) (*BatchResult, error) {
	if b.Issuer == nil || b.Issuer.Keys == nil || b.Issuer.Ledger == nil {
		return nil, errors.New("signer: Batch needs an Issuer with keys and a ledger")
	}
	txSize := b.TxSize
	if txSize <= 0 {
		txSize = DefaultBatchTxSize
	}
	txSize = min(txSize, maxBatchTxSize)
	workers := b.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ids := b.Identities
	if ids == nil {
		ids = []age.Identity{b.Issuer.Keys.Identity}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	res := &BatchResult{Total: len(names)}
	var mu sync.Mutex // guards res and the progress count
	done := 0
	answered := func(add func()) {
		mu.Lock()
		defer mu.Unlock()
		add()
		done++
		if b.Progress != nil {
			b.Progress(done, len(names))
		}
	}

	// Stage 1: names to the workers.
	jobs := make(chan batchItem, workers)
	go func() {
		defer close(jobs)
		for i, name := range names {
			select {
			case jobs <- batchItem{seq: i, name: name}:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Stage 2: decrypt and prepare, in parallel.
	prepared := make(chan batchItem, 2*txSize)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				b.prepare(ctx, inDir, ids, &it)
				select {
				case prepared <- it:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(prepared) }()

	// Stage 4: write the committed licenses, a transaction's worth at a
	// time (see writeLicenses).
	outputs := make(chan []licenseOut, batchOutputs)
	var wwg sync.WaitGroup
	for range batchWriters {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for outs := range outputs {
				// Written even when the batch is stopping: these
				// licenses are committed.
				err := writeLicenses(outDir, outs, func(wrote bool) {
					answered(func() {
						if wrote {
							res.Written++
						}
					})
				})
				if err != nil {
					cancel(err)
				}
			}
		}()
	}

	// Stage 3: record in the ledger, in file order, txSize at a time.
	recErr := func() error {
		defer close(outputs)
		pending := map[int]batchItem{} // arrived out of order
		next := 0
		chunk := make([]batchItem, 0, txSize)
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			if err := b.record(ctx, chunk); err != nil {
				return err
			}
			outs := make([]licenseOut, 0, len(chunk))
			for _, it := range chunk {
				switch {
				case it.err != nil:
					answered(func() { res.Errors = append(res.Errors, BatchEntry{File: it.name, Err: it.err}) })
				case it.refused != nil:
					answered(func() { res.Refused = append(res.Refused, BatchEntry{File: it.name, Refused: it.refused}) })
				default:
					mu.Lock()
					switch it.res.Outcome {
					case Issued, Transferred:
						res.Issued++
					case Reissued:
						res.Reissued++
					case Replayed:
						res.Replayed++
					}
					mu.Unlock()
					// Only a replay can find its file already written.
					outs = append(outs, licenseOut{LicenseName(it.name), it.res.File, it.res.Outcome == Replayed})
				}
			}
			if len(outs) > 0 {
				select {
				case outputs <- outs:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			chunk = chunk[:0]
			return nil
		}
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
				if len(chunk) == txSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		return flush()
	}()
	if recErr != nil {
		cancel(recErr)
		for range prepared { // let the workers finish
		}
	}
	wwg.Wait()
	if err := syncDir(outDir); err != nil && recErr == nil {
		cancel(err)
	}
	// Entries were added in file order per transaction; sort anyway, the
	// summary should not depend on anything else.
	sortEntries(res.Refused)
	sortEntries(res.Errors)
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	return res, nil
}

func sortEntries(es []BatchEntry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].File < es[j].File })
}

// prepare reads, decrypts and prepares one request, leaving any failure
// in the item.
func (b *Batch) prepare(ctx context.Context, inDir string, ids []age.Identity, it *batchItem) {
	data, err := readRequestFile(filepath.Join(inDir, it.name))
	if err != nil {
		it.err = err
		return
	}
	req, err := olr.DecryptRequest(data, ids)
	if err != nil {
		it.err = err
		return
	}
	it.req = req
	it.prep, it.prepErr = b.Issuer.Prepare(ctx, req)
}

func readRequestFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, olr.MaxRequestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > olr.MaxRequestSize {
		return nil, fmt.Errorf("request is larger than %d bytes", olr.MaxRequestSize)
	}
	return data, nil
}

// record runs Record for every prepared item of chunk in one ledger
// transaction, filling in each item's result or refusal. A request that
// fails for another reason is set aside (its error recorded) and the
// transaction runs again without it, so that half of its writes never
// commit with the others.
func (b *Batch) record(ctx context.Context, chunk []batchItem) error {
	for {
		failed := -1
		var failErr error
		err := b.Issuer.Ledger.Update(ctx, b.Operator, func(tx *ledger.Tx) error {
			// Update may run this more than once: start afresh each time.
			for i := range chunk {
				it := &chunk[i]
				it.res, it.refused = nil, nil
				if it.err != nil {
					continue
				}
				res, err := b.recordOne(tx, it)
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

func (b *Batch) recordOne(tx *ledger.Tx, it *batchItem) (*Result, error) {
	if it.prepErr != nil {
		// A replayed request is answered even when it would now be
		// refused, as Issuer.Issue does.
		res, err := replayed(tx, it.req)
		if res != nil || err != nil {
			return res, err
		}
		return nil, it.prepErr
	}
	return b.Issuer.Record(tx, it.prep, nil)
}

// licenseOut is a license file to write: its base name and content.
type licenseOut struct {
	name string
	data []byte
	// mayExist is set when the file may already hold the license (a
	// replay), so that it is not written again. A new license has a new
	// ID: a file of that name holds something else and is replaced.
	mayExist bool
}

// writeLicenses writes the license files of one committed transaction
// into dir, each atomically, calling done for each file as it is in
// place (wrote is false when the file already held exactly that license).
//
// Each license goes to a temporary file named ".NAME.tmp…" in dir (never
// taken for a license: a killed process leaves at most such files, which
// the next batch removes), which is fsynced, then renamed to NAME. The
// files are handled in three passes rather than one file after the other:
// create and write them all, fsync them all at once, then rename them
// all. Every file is still fsynced before its rename, but concurrent
// fsyncs share the file system's journal commits instead of forcing one
// each, and no create waits behind another file's commit.
func writeLicenses(dir string, outs []licenseOut, done func(wrote bool)) (err error) {
	type pending struct {
		out  *licenseOut
		f    *os.File
		tmp  string
		werr error
	}
	var todo []pending
	defer func() {
		for _, p := range todo {
			if p.f != nil {
				p.f.Close()
			}
			if p.tmp != "" {
				os.Remove(p.tmp) // a no-op after the rename
			}
		}
	}()
	for i := range outs {
		o := &outs[i]
		if o.mayExist {
			if old, err := os.ReadFile(filepath.Join(dir, o.name)); err == nil && bytes.Equal(old, o.data) {
				done(false)
				continue
			}
		}
		f, err := createTemp(dir, "."+o.name+tempInfix)
		if err != nil {
			return fmt.Errorf("writing %s: %w", o.name, err)
		}
		todo = append(todo, pending{out: o, f: f, tmp: f.Name()})
		if _, err := f.Write(o.data); err != nil {
			return fmt.Errorf("writing %s: %w", o.name, err)
		}
	}
	// fsync every file, on up to batchSyncs goroutines: fsync waits for
	// the disk, not the CPU.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(todo), batchSyncs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(todo); i = int(next.Add(1) - 1) {
				p := &todo[i]
				p.werr = p.f.Sync()
				if cerr := p.f.Close(); p.werr == nil {
					p.werr = cerr
				}
				p.f = nil
			}
		}()
	}
	wg.Wait()
	for i := range todo {
		p := &todo[i]
		if p.werr != nil {
			return fmt.Errorf("writing %s: %w", p.out.name, p.werr)
		}
		if err := os.Rename(p.tmp, filepath.Join(dir, p.out.name)); err != nil {
			return fmt.Errorf("writing %s: %w", p.out.name, err)
		}
		p.tmp = ""
		done(true)
	}
	return nil
}

// createTemp creates a new file named prefix followed by random digits in
// dir, with mode 0644 whatever the umask (as os.CreateTemp, which gives
// 0600, then a chmod would; the chmod is only made when the umask took
// bits away, since it is one more metadata change to journal).
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil && fi.Mode().Perm() != 0o644 {
			err = f.Chmod(0o644)
		}
		if err != nil {
			f.Close()
			os.Remove(name)
			return nil, err
		}
		return f, nil
	}
}

// tempInfix marks the temporary files of writeLicenses:
// ".NAME.license.olr.tmp123456".
const tempInfix = ".tmp"

// removeStaleTemps removes the temporary license files a killed batch
// left in dir: hidden files named ".NAME.license.olr.tmp…". They never
// became licenses (a license is renamed into place only once complete),
// so removing them loses nothing. Two batches must not write into one
// directory at once: the second would remove the first's.
func removeStaleTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if isStaleTemp(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// isStaleTemp reports whether name is one of writeLicenses' temporary
// files.
func isStaleTemp(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, LicenseExt+tempInfix)
	return i > 1
}

// syncDir makes the renames into dir durable where the OS allows it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	d.Sync() // not supported everywhere; the renames are still atomic
	return d.Close()
}
