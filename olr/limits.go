package olr

// Bounds on attacker-controlled input, each checked before the work it
// bounds. They are generous for real licenses and requests and small
// enough that a hostile file costs little to reject. SPEC.md states each
// of them: they are part of the formats.
const (
	// MaxLicenseSize bounds a license.olr file; a real one is about 2 KiB.
	MaxLicenseSize = 64 << 10
	// MaxRequestSize bounds a req.olr file as stored, armored or binary,
	// checked before decryption; a real one is a few KiB. The plaintext
	// is smaller than the file, so it is bounded too.
	MaxRequestSize = 1 << 20
	// MaxTrustSize bounds a trust bundle file.
	MaxTrustSize = 64 << 10
	// maxTrustKeys bounds the keys in one trust bundle.
	maxTrustKeys = 64
	// maxModules bounds the modules in one license.
	maxModules = 256
	// maxLanguages bounds the languages in one license.
	maxLanguages = 128
	// maxLanguageTag bounds one language tag; RFC 5646 section 4.4.1
	// gives 35 characters as enough for any tag of the subtags olr allows.
	maxLanguageTag = 35
	// maxQuota is the largest module quota, 2^63-2: every quota and
	// quota+1 fit in an int64, so products can count up to it safely.
	maxQuota = 1<<63 - 2
	// maxFactors bounds the hashed factors in one license and the raw
	// factors in one request.
	maxFactors = 256
	// maxValue bounds one text value of a license or request (licensee,
	// product, host name, factor source) in bytes.
	maxValue = 256
	// maxNotes and maxNote bound the collectors' notes in a request. With
	// maxFactors and maxValue they keep a request's fingerprint well under
	// the 256 KiB the vendor's ledger stores per activation.
	maxNotes = 64
	maxNote  = 512
	// maxGraceDays bounds the grace period a license may grant.
	maxGraceDays = 365
	// maxJSONDepth bounds the nesting of arrays and objects in a request's
	// plaintext; a request nests 4 deep.
	maxJSONDepth = 16
	// maxTPMBlob bounds a license's wrapped TPM key: about 240 bytes for
	// an ECC endorsement key, 430 for an RSA one.
	maxTPMBlob = 2048
	// maxEKPublic, maxEKCert and maxEKChain bound what a request carries
	// of a TPM: an EK's public area (122 bytes for ECC, 314 for RSA), a
	// certificate (0.5 to 1.5 KiB) and the chain (2 or 3 certificates).
	maxEKPublic = 1024
	maxEKCert   = 4096
	maxEKChain  = 8

	// MaxModules and MaxLanguages are the bounds above, for the vendor's
	// ledger: a sale it accepts must fit in a license.
	MaxModules   = maxModules
	MaxLanguages = maxLanguages
	// MaxNotes is the bound above, for code that adds notes to a request.
	MaxNotes = maxNotes
)
