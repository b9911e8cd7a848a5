package qrcode

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/fingerprint/host"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
)

// TestRequestSizes measures what a request costs as a file and as QR
// codes, for both vendor key types, with and without compression, and
// holds the compressed requests to a bound of parts. Run with -v for the
// table in BENCHMARKS.md.
func TestRequestSizes(t *testing.T) {
	baremetal, err := host.Collect(context.Background(), host.Options{Root: "../../fingerprint/host/testdata/baremetal"})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	t.Log("| machine | vendor key | compressed | req.olr (armored) | binary | QR codes | QR versions | characters per code |")
	t.Log("|---|---|---|---|---|---|---|---|")
	for _, m := range []struct {
		name string
		fp   *fingerprint.Fingerprint
	}{{"olrtest server", olrtest.Fingerprint()}, {"baremetal fixture", baremetal}} {
		req, err := olr.NewRequest("backup-server", "Example Backup Ltd", "OEM-7Q2D-K9XW-4M3T", "backup01", "olr devel", m.fp, olrtest.Epoch)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := req.Marshal()
		for _, k := range []struct {
			name string
			rcp  age.Recipient
			max  int // compressed, at most
		}{{"x25519", x.Recipient(), 4}, {"hybrid", pq.Recipient(), 8}} {
			for _, compressed := range []bool{false, true} {
				encrypt := olr.EncryptRequest
				if compressed {
					encrypt = olr.EncryptRequestCompressed
				}
				bin, err := encrypt(req, []age.Recipient{k.rcp}, false)
				if err != nil {
					t.Fatal(err)
				}
				var arm bytes.Buffer
				aw := armor.NewWriter(&arm)
				aw.Write(bin)
				aw.Close()
				codes, err := Request(bin, req.ID)
				if err != nil {
					t.Fatal(err)
				}
				versions, chars := "", 0
				for _, c := range codes {
					versions += fmt.Sprintf("%d ", c.Version)
					chars += len(c.Part.Text())
				}
				t.Logf("| %s (%d factors, %d B of JSON) | %s | %v | %d B | %d B | %d | %s| %d |",
					m.name, len(m.fp.Factors), len(plain), k.name, compressed, arm.Len(), len(bin), len(codes), versions, chars/len(codes))
				if compressed && len(codes) > k.max {
					t.Errorf("%s, %s: %d QR codes, want at most %d", m.name, k.name, len(codes), k.max)
				}
			}
		}
	}
}
