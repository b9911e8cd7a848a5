package olr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/olr-dev/olr/fingerprint"
)

// Status is the verdict on a license.
type Status string

const (
	// Valid: the license is genuine, in force and bound to this machine.
	Valid Status = "valid"
	// Grace: the license is genuine and in force, but this machine no
	// longer matches it; it keeps working until Result.GraceUntil.
	Grace Status = "grace"
	// Invalid: the license must not be honoured; Result.Reason says why.
	Invalid Status = "invalid"
)

// Reason says why a license is not valid. The set is fixed and
// documented; products may switch on it.
type Reason string

// Reasons, in the order the checks run.
const (
	ReasonMalformed         Reason = "malformed"          // not a well-formed license file
	ReasonUnsupported       Reason = "unsupported-format" // a format version this code does not read
	ReasonUntrustedKey      Reason = "untrusted-key"      // signed by a key not in the trust bundle
	ReasonBadSignature      Reason = "bad-signature"      // the signature does not verify: the file was altered
	ReasonKeyNotValid       Reason = "key-not-valid"      // issued outside the signing key's validity window
	ReasonWrongProduct      Reason = "wrong-product"      // a license for another product
	ReasonNotYetValid       Reason = "not-yet-valid"      // before not-before
	ReasonExpired           Reason = "expired"            // after the expiry
	ReasonHardwareMismatch  Reason = "hardware-mismatch"  // this machine is not the licensed machine
	ReasonGraceExpired      Reason = "grace-expired"      // the machine drifted and the grace period is over
	ReasonRevoked           Reason = "revoked"            // the vendor revoked the license
	ReasonClockRollback     Reason = "clock-rollback"     // the clock is earlier than a time already seen
	ReasonHardwareGrace     Reason = "hardware-changed"   // reason attached to a Grace status
	ReasonNotInstalled      Reason = "not-installed"      // no license is installed
	ReasonFingerprintFailed Reason = "fingerprint-failed" // the machine's fingerprint could not be read
	ReasonTPMUnavailable    Reason = "tpm-unavailable"    // the license is TPM-bound and no TPM answered
	ReasonTPMMismatch       Reason = "tpm-mismatch"       // a TPM answered, but it is not the licensed TPM
)

// Reasons lists every reason, for documentation and tests.
var Reasons = []Reason{
	ReasonMalformed, ReasonUnsupported, ReasonUntrustedKey, ReasonBadSignature,
	ReasonKeyNotValid, ReasonWrongProduct, ReasonNotYetValid, ReasonExpired,
	ReasonHardwareMismatch, ReasonGraceExpired, ReasonRevoked, ReasonClockRollback,
	ReasonHardwareGrace, ReasonNotInstalled, ReasonFingerprintFailed,
	ReasonTPMUnavailable, ReasonTPMMismatch,
}

// VerifyError is the error of a license that is not usable.
type VerifyError struct {
	Reason Reason
	Err    error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("license %s: %v", e.Reason, e.Err) }

// The messages wrapped by a VerifyError say what is wrong without
// repeating the reason, which VerifyError puts in front.
func (e *VerifyError) Unwrap() error { return e.Err }

// ErrBadSignature is wrapped by the error of a license whose signature
// does not verify.
var ErrBadSignature = errors.New("signature does not verify: the file was altered or not signed by this key")

// Result is the outcome of [Verify].
type Result struct {
	Status Status
	Reason Reason // empty when Valid
	// License is the parsed license once its signature verified; nil
	// before that.
	License *License
	// Match explains the hardware binding, when the check got that far.
	Match *fingerprint.Report
	// GraceUntil is the end of the grace period for a Grace result, and
	// for a GraceExpired one the moment it ended.
	GraceUntil time.Time
	// TPMPrivate is, for a TPM-bound license whose TPM proved it, the
	// license key's private part as the TPM wrapped it: worth keeping for
	// the next check (VerifyOptions.TPMPrivate).
	TPMPrivate []byte
	// Err explains an Invalid result; it is also returned by Verify.
	Err error
}

// Usable reports whether the product may run: valid, or in grace.
func (r *Result) Usable() bool { return r.Status == Valid || r.Status == Grace }

// VerifyOptions tunes [Verify]. The zero value is fine.
type VerifyOptions struct {
	// Product, when set, must equal the license's product.
	Product string
	// MismatchSince is when this installed license was first seen on a
	// machine that did not match it; zero if never. Only an installed
	// license that matched at import has such a time (the store keeps
	// it), so a copied license never earns a grace period.
	MismatchSince time.Time
	// Revocations, when set, is the vendor's latest revocation list,
	// already authenticated (ParseRevocationList).
	Revocations *RevocationList
	// TPM proves a TPM-bound license on this machine's TPM (package
	// fingerprint/tpm implements it). Without it such a license is
	// invalid with ReasonTPMUnavailable.
	TPM TPMProver
	// TPMPrivate is the private part a TPM wrapped at an earlier proof of
	// this license (Result.TPMPrivate); nil makes the TPM import the
	// license key again.
	TPMPrivate []byte
}

// Verify checks a license.olr file: format, trusted key, signature, the
// signing key's validity window, product, validity dates, the TPM binding
// of a TPM-bound license (through opts.TPM) and the hardware binding
// against fp, the fingerprint of the machine at hand, at time now.
//
// It returns a Result in every case, and with an Invalid status also a
// *VerifyError naming the Reason. Grace is granted only with
// opts.MismatchSince set and only while some licensed factor other than an
// IP address still matches (the machine drifted; it is not another
// machine).
func Verify(license []byte, trust *Trust, fp *fingerprint.Fingerprint, now time.Time, opts *VerifyOptions) (*Result, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	r := &Result{}
	fail := func(reason Reason, err error) (*Result, error) {
		r.Status, r.Reason = Invalid, reason
		r.Err = &VerifyError{Reason: reason, Err: err}
		return r, r.Err
	}
	body, key, err := licenseDoc.authenticate(license, trust)
	switch {
	case errors.Is(err, ErrUnsupportedFormat):
		return fail(ReasonUnsupported, err)
	case errors.Is(err, ErrUnknownKey):
		return fail(ReasonUntrustedKey, err)
	case errors.Is(err, ErrBadSignature):
		return fail(ReasonBadSignature, err)
	case err != nil:
		return fail(ReasonMalformed, err)
	}
	l, err := parseBody(body)
	if err != nil {
		// Signed but malformed: a vendor-side bug, never an attacker.
		return fail(ReasonMalformed, err)
	}
	r.License = l
	if !key.ValidAt(l.Issued) {
		return fail(ReasonKeyNotValid, fmt.Errorf("issued %s, %w %s", formatTime(l.Issued), ErrKeyNotValid, key.ID))
	}
	if c := opts.Revocations; c != nil && c.IsRevoked(l.ID) {
		return fail(ReasonRevoked, fmt.Errorf("the vendor revoked this license (revocation list %d)", c.Number))
	}
	if opts.Product != "" && l.Product != opts.Product {
		return fail(ReasonWrongProduct, fmt.Errorf("license is for product %q, not %q", l.Product, opts.Product))
	}
	if now.Before(l.NotBefore) {
		return fail(ReasonNotYetValid, fmt.Errorf("license is valid from %s", formatTime(l.NotBefore)))
	}
	if !l.Expires.IsZero() && !now.Before(l.Expires) {
		return fail(ReasonExpired, fmt.Errorf("license expired at %s", formatTime(l.Expires)))
	}
	if l.TPM != nil {
		private, err := l.TPM.Prove(context.Background(), opts.TPM, l.ID, opts.TPMPrivate)
		if err != nil {
			// No grace: a TPM is not hardware that drifts. Prove's errors
			// are all TPMProofErrors; any other still fails the check.
			pe := &TPMProofError{Reason: ReasonTPMMismatch, Err: err}
			errors.As(err, &pe)
			return fail(pe.Reason, pe.Err)
		}
		r.TPMPrivate = private
	}
	if fp == nil {
		return fail(ReasonFingerprintFailed, errors.New("no fingerprint of this machine"))
	}
	r.Match = l.Binding.Match(fp)
	if r.Match.Pass {
		r.Status = Valid
		return r, nil
	}
	return r, r.GraceFrom(opts.MismatchSince, now)
}

// GraceFrom judges a hardware mismatch again as if the machine had first
// been seen not matching at since (zero: never), at time now: grace while
// the match is partial and the grace period runs, invalid otherwise. It
// applies only to a result whose signature, dates and product passed and
// whose hardware did not match (it returns r.Err unchanged otherwise), so
// that the store can settle when a drift began without verifying the
// signature a second time.
func (r *Result) GraceFrom(since, now time.Time) error {
	if r.License == nil || r.Match == nil || r.Match.Pass ||
		(r.Status == Invalid && r.Reason != ReasonHardwareMismatch && r.Reason != ReasonGraceExpired) {
		return r.Err
	}
	l, m := r.License, r.Match
	fail := func(reason Reason, err error) error {
		r.Status, r.Reason = Invalid, reason
		r.Err = &VerifyError{Reason: reason, Err: err}
		return r.Err
	}
	var mismatch error
	if len(m.RequiredUnmatched) > 0 {
		mismatch = fmt.Errorf("this machine does not match the licensed hardware: required factor %s did not match", m.RequiredUnmatched[0])
	} else {
		mismatch = fmt.Errorf("this machine does not match the licensed hardware (score %d of %d, %d needed)",
			m.Score, m.Total, m.PassScore())
	}
	r.GraceUntil = time.Time{}
	if since.IsZero() || !m.Partial {
		return fail(ReasonHardwareMismatch, mismatch)
	}
	r.GraceUntil = since.Add(l.Grace())
	if !now.Before(r.GraceUntil) {
		return fail(ReasonGraceExpired, fmt.Errorf("%v; the %d-day grace period ended at %s", mismatch, l.GraceDays, formatTime(r.GraceUntil)))
	}
	r.Status, r.Reason, r.Err = Grace, ReasonHardwareGrace, nil
	return nil
}

// ParseLicense parses and authenticates a license without judging dates
// or hardware: for display, and for tools that inspect licenses.
func ParseLicense(license []byte, trust *Trust) (*License, error) {
	body, _, err := licenseDoc.authenticate(license, trust)
	if err != nil {
		return nil, err
	}
	return parseBody(body)
}

// ParseLicenseUnauthenticated parses a license WITHOUT checking its
// signature, for diagnostics such as comparing a machine with the binding
// of a license whose vendor key is not at hand. Nothing it returns may be
// trusted: never base a licensing decision on it.
func ParseLicenseUnauthenticated(license []byte) (*License, error) {
	body, _, _, err := licenseDoc.split(license)
	if err != nil {
		return nil, err
	}
	return parseBody(body)
}
