// Package olr is what a licensed product embeds to check its offline
// license: the license.olr and req.olr formats, trust bundles of the
// vendor's signing keys, [Verify], and quota checks for the modules sold.
//
// A product verifies at every start:
//
//	trust, _ := olr.ParseTrust(embeddedTrustBundle)
//	m, _ := machine.Collect(ctx, machine.Options{})      // package fingerprint/machine: as olr request, TPM included
//	defer m.Close()
//	res, err := store.Open(store.DefaultDir()).Check(trust, m.Fingerprint, time.Now(), nil)
//
// and asks before any action that consumes quota:
//
//	err := res.License.CheckQuota("obm", usersNow, 1) // *QuotaError: the action is blocked
//
// [Verify] is the pure form (bytes, trust, fingerprint, time in; a
// [Result] out); package olr/store adds the machine's memory: when the
// license was installed, last checked, and first seen on drifted hardware
// (the start of its grace period), and the vendor's revocation list.
//
// The package imports only the standard library, age and package
// fingerprint: no hardware access, CLI or database code, so that the
// verifier stays small. SPEC.md in the repository specifies the formats;
// the vectors package holds test vectors for them.
//
// # Security
//
// Every byte of a license is covered by its Ed25519 signature or checked
// by the parser, so a single changed byte never verifies. The signature
// covers a domain-separation label and the exact bytes of the body; the
// signing key's ID is inside them. The body is parsed only after the
// signature verified. Licenses hold salted hashes of the hardware, never
// raw MAC or IP addresses or serials.
//
// # Backwards compatibility
//
// The version 1 formats (olr-license/v1, olr-request/v1, olr-trust/v1,
// olr-crl/v1) will not change; a new version gets a new format tag, which
// this version reports as unsupported rather than guessing. The Go API
// follows semantic versioning once tagged v1.
package olr
