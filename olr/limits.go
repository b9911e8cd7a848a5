package olr

// Bounds on attacker-controlled input, each checked before the work it
// bounds. They are generous for real licenses and requests and small
// enough that a hostile file costs little to reject.
const (
	// MaxLicenseSize bounds a license.olr file; a real one is about 2 KiB.
	MaxLicenseSize = 64 << 10
	// MaxRequestSize bounds an encrypted req.olr; a real one is a few KiB.
	MaxRequestSize = 1 << 20
	// MaxTrustSize bounds a trust bundle file.
	MaxTrustSize = 64 << 10
	// maxTrustKeys bounds the keys in one trust bundle.
	maxTrustKeys = 64
	// maxModules bounds the modules in one license.
	maxModules = 256
	// maxLanguages bounds the languages in one license.
	maxLanguages = 128
	// maxFactors bounds the hashed factors in one license and the raw
	// factors in one request.
	maxFactors = 256
	// maxValue bounds one field value of a license (licensee, product).
	maxValue = 256
	// maxNotes and maxNote bound the collectors' notes in a request. With
	// maxFactors and maxValue they keep a request's fingerprint well under
	// the 256 KiB the vendor's ledger stores per activation.
	maxNotes = 64
	maxNote  = 512
	// maxGraceDays bounds the grace period a license may grant.
	maxGraceDays = 365
	// maxTPMBlob bounds a license's wrapped TPM key: about 240 bytes for
	// an ECC endorsement key, 430 for an RSA one.
	maxTPMBlob = 2048
)
