package olr_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

func TestRevocationList(t *testing.T) {
	key := olrtest.Key("vendor")
	c := &olr.RevocationList{
		KeyID: olr.KeyIDOf(key.Public().(ed25519.PublicKey)), Number: 3, Issued: olrtest.Epoch,
		Revoked: []string{"0123456789abcdef0123456789abcdef", "ffeeddccbbaa99887766554433221100"},
	}
	data, err := olr.SignRevocationList(c, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := olr.ParseRevocationList(data, olrtest.Trust(key))
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 3 || !got.IsRevoked("0123456789abcdef0123456789abcdef") || got.IsRevoked("00000000000000000000000000000000") {
		t.Fatalf("got %+v", got)
	}
	if _, err := olr.ParseRevocationList(data, olrtest.Trust(olrtest.Key("other"))); err == nil {
		t.Fatal("accepted a list from an untrusted key")
	}
	for i := range data {
		m := bytes.Clone(data)
		m[i] ^= 0x20
		if _, err := olr.ParseRevocationList(m, olrtest.Trust(key)); err == nil {
			t.Fatalf("changed byte %d still parses", i)
		}
	}
	c.Revoked = []string{"ffeeddccbbaa99887766554433221100", "0123456789abcdef0123456789abcdef"}
	if _, err := olr.SignRevocationList(c, key); err == nil {
		t.Fatal("signed an unsorted list")
	}
}

// FuzzParseRevocationList: never panics, and whatever parses re-signs to
// an equal list.
func FuzzParseRevocationList(f *testing.F) {
	key := olrtest.Key("vendor")
	trust := olrtest.Trust(key)
	seed, _ := olr.SignRevocationList(&olr.RevocationList{
		KeyID: olr.KeyIDOf(key.Public().(ed25519.PublicKey)), Number: 1, Issued: olrtest.Epoch,
		Revoked: []string{"0123456789abcdef0123456789abcdef"},
	}, key)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := olr.ParseRevocationList(data, trust)
		if err != nil {
			return
		}
		again, err := olr.SignRevocationList(c, key)
		if err != nil {
			t.Fatalf("a parsed list does not sign again: %v", err)
		}
		if _, err := olr.ParseRevocationList(again, trust); err != nil {
			t.Fatal(err)
		}
	})
}
