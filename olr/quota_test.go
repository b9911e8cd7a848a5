package olr_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/olr-dev/olr/olr"
)

func TestParseQuota(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr error
	}{
		{in: "0", want: 0},
		{in: "50", want: 50},
		{in: "unlimited", want: olr.Unlimited},
		{in: "9223372036854775806", want: olr.MaxQuota},
		{in: "9223372036854775807", wantErr: olr.ErrQuotaTooLarge},
		{in: "99999999999999999999", wantErr: olr.ErrQuotaTooLarge},
		{in: "", wantErr: olr.ErrQuotaSyntax},
		{in: "-1", wantErr: olr.ErrQuotaSyntax},
		{in: "+5", wantErr: olr.ErrQuotaSyntax},
		{in: "050", wantErr: olr.ErrQuotaSyntax},
		{in: "00", wantErr: olr.ErrQuotaSyntax},
		{in: "1e3", wantErr: olr.ErrQuotaSyntax},
		{in: "1.0", wantErr: olr.ErrQuotaSyntax},
		{in: " 5", wantErr: olr.ErrQuotaSyntax},
		{in: "Unlimited", wantErr: olr.ErrQuotaSyntax},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := olr.ParseQuota(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ParseQuota(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseQuota(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
	_, err := olr.ParseQuota("9223372036854775807")
	if want := `quota "9223372036854775807" is too large (the largest quota is 9223372036854775806; use "unlimited" for no limit)`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// FuzzParseQuota: what ParseQuota accepts, Module.QuotaText writes back
// exactly.
func FuzzParseQuota(f *testing.F) {
	for _, s := range []string{"0", "50", "unlimited", "9223372036854775806", "050", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := olr.ParseQuota(s)
		if err != nil {
			return
		}
		if q < olr.Unlimited || q > olr.MaxQuota {
			t.Fatalf("ParseQuota(%q) = %d, out of range", s, q)
		}
		if back := (olr.Module{Quota: q}).QuotaText(); back != s {
			t.Fatalf("ParseQuota(%q) = %d, written back as %q", s, q, back)
		}
	})
}
