package ledger

// Bounds on what the ledger stores. Import files come from another
// system and request contents from customers, so every size is checked
// before work is done. What a sale may hold (modules, quotas, languages)
// is bounded by olr's rules for a license instead, so that whatever the
// ledger accepts can be issued.
const (
	// MaxImportBytes bounds a sales export read by ImportCSV/ImportJSON;
	// a million keys fit comfortably.
	MaxImportBytes = 64 << 20
	// maxImportKeys bounds the number of keys in one import, so one
	// transaction stays reasonable.
	maxImportKeys = 200_000
	// maxKeyLen bounds a license key; real keys are a few dozen characters.
	maxKeyLen = 128
	// maxLicenseeLen bounds a licensee name (a company name).
	maxLicenseeLen = 256
	// maxProductLen bounds a product name.
	maxProductLen = 128
	// maxIDLen bounds license and request IDs chosen by the signer.
	maxIDLen = 128
	// maxOperatorLen bounds an operator name.
	maxOperatorLen = 128
	// maxTextLen bounds free text: revocation and transfer reasons, import
	// source labels.
	maxTextLen = 1024
	// maxPoolNameLen bounds a pool's name.
	maxPoolNameLen = 64
	// maxFingerprintBytes bounds the JSON of a machine's raw factors.
	maxFingerprintBytes = 256 << 10
	// maxLicenseFileBytes bounds a stored license.olr.
	maxLicenseFileBytes = 1 << 20

	// busyRetries is how many times Update starts over when the write
	// lock stayed busy (each attempt having already waited the engine's
	// timeout: sqlite.BusyTimeout, postgres.LockTimeout).
	busyRetries = 3
)
