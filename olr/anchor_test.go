package olr_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/olr-dev/olr/olr"
)

func anchorKey(t testing.TB) (ed25519.PrivateKey, *olr.Trust) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	trust := &olr.Trust{}
	if err := trust.Add(pub, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil {
		t.Fatal(err)
	}
	return priv, trust
}

func TestLedgerAnchorRoundTrip(t *testing.T) {
	priv, trust := anchorKey(t)
	a := &olr.LedgerAnchor{KeyID: olr.KeyIDOf(priv.Public().(ed25519.PublicKey)),
		Issued: time.Date(2026, 11, 27, 16, 57, 45, 0, time.UTC), Seq: 42, Hash: sha256.Sum256([]byte("head"))}
	data, err := olr.SignLedgerAnchor(a, priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN OLR LEDGER ANCHOR-----\nformat: olr-ledger-anchor/v1\n")) {
		t.Errorf("anchor file:\n%s", data)
	}
	got, err := olr.ParseLedgerAnchor(data, trust)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *a {
		t.Errorf("parsed %+v, want %+v", got, a)
	}
	// Every single-byte change is refused.
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		if _, err := olr.ParseLedgerAnchor(bad, trust); err == nil {
			t.Fatalf("byte %d changed, still accepted", i)
		}
	}
	// Another key's anchor is not trusted.
	_, other := anchorKey(t)
	if _, err := olr.ParseLedgerAnchor(data, other); !errors.Is(err, olr.ErrUnknownKey) {
		t.Errorf("untrusted key: %v", err)
	}
	// A license is not an anchor.
	if _, err := olr.ParseLedgerAnchor([]byte(strings.Replace(string(data), "LEDGER ANCHOR", "LICENSE", 2)), trust); err == nil {
		t.Error("a file with license markers parsed as an anchor")
	}
	if _, err := olr.SignLedgerAnchor(&olr.LedgerAnchor{KeyID: a.KeyID}, priv); err == nil {
		t.Error("signed an anchor of record 0")
	}
}

func FuzzParseLedgerAnchor(f *testing.F) {
	priv, trust := anchorKey(f)
	data, err := olr.SignLedgerAnchor(&olr.LedgerAnchor{KeyID: olr.KeyIDOf(priv.Public().(ed25519.PublicKey)),
		Issued: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Seq: 7}, priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := olr.ParseLedgerAnchor(data, trust)
		if err != nil {
			return
		}
		again, err := olr.SignLedgerAnchor(a, priv)
		if err != nil {
			t.Fatalf("accepted an anchor that cannot be signed again: %v", err)
		}
		if b, err := olr.ParseLedgerAnchor(again, trust); err != nil || *b != *a {
			t.Fatalf("signed again, parsed as %+v, %v; want %+v", b, err, a)
		}
	})
}
