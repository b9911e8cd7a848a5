package olrcli

import (
	"github.com/olr-dev/olr/olr"
)

// tpmVerdict says what a license's TPM binding is and how its proof went,
// for olr verify --explain and olr status; "" for a license without one.
func tpmVerdict(r *olr.Result) string {
	l := r.License
	if l == nil || l.TPM == nil {
		return ""
	}
	s := "bound to this machine's TPM (" + l.TPM.EKKind + " endorsement key); "
	switch {
	case r.Reason == olr.ReasonTPMUnavailable || r.Reason == olr.ReasonTPMMismatch:
		return s + "proof failed: " + string(r.Reason)
	case r.TPMPrivate != nil:
		return s + "proof ok: the TPM signed a fresh challenge with the license key"
	}
	return s + "not proven (an earlier check failed)"
}

// tpmHint says what to do about a failed proof.
func tpmHint(reason olr.Reason) string {
	switch reason {
	case olr.ReasonTPMUnavailable:
		return "the license is bound to a TPM: run where olr can reach it (--tpm auto reads /dev/tpmrm0; a user of the tss group, or root), and check that the endorsement hierarchy is enabled and has no password"
	case olr.ReasonTPMMismatch:
		return "this machine's TPM is not the one the license was issued for: a license, or a state directory, copied from another machine; if the TPM or motherboard was replaced, make a new request with olr request and ask the vendor for a transfer"
	}
	return ""
}
