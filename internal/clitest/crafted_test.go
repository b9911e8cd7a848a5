package clitest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// secretKey is the license key of the crafted requests: it must never
// appear in an error.
const secretKey = "OEM-S3CR-ETKE-Y0042"

// TestCraftedRequests encrypts hand-made plaintexts to the vendor key, as
// a hostile or broken machine side could, and checks what olr-sign
// inspect and issue make of them: a clear error naming the file, the
// right exit code, no license written, and never the license key in an
// error.
func TestCraftedRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "vendor.key")
	mustRun(t, dir, "olr-sign", "keygen", "--unencrypted", "--x25519", "-o", key)
	recipientText, err := os.ReadFile(key + ".recipient")
	if err != nil {
		t.Fatal(err)
	}
	recipient, err := age.ParseX25519Recipient(strings.TrimSpace(string(recipientText)))
	if err != nil {
		t.Fatal(err)
	}

	// a genuine request's plaintext, as the template
	mustRun(t, dir, "olr", "request", "--vendor", key+".recipient", "--licensee", "Example Backup Ltd",
		"--key", secretKey, "--root", hostRoot(t, "kvm"), "-o", filepath.Join(dir, "genuine.olr"))
	genuine := mustRun(t, dir, "olr-sign", "inspect", "--json", "-i", key, filepath.Join(dir, "genuine.olr")).stdout

	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal([]byte(genuine), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	set := func(k string, v any) []byte { return edit(func(m map[string]any) { m[k] = v }) }
	fpSet := func(k string, v any) []byte {
		return edit(func(m map[string]any) { m["fingerprint"].(map[string]any)[k] = v })
	}
	factorSet := func(kind, member string, v any) []byte {
		return edit(func(m map[string]any) {
			for _, x := range m["fingerprint"].(map[string]any)["factors"].([]any) {
				if f := x.(map[string]any); f["kind"] == kind {
					f[member] = v
				}
			}
		})
	}
	raw := func(old, new string) []byte {
		if !strings.Contains(genuine, old) {
			t.Fatalf("the genuine plaintext holds no %q", old)
		}
		return []byte(strings.Replace(genuine, old, new, 1))
	}
	old := time.Now().AddDate(0, 0, -45).UTC().Format(time.RFC3339)
	future := time.Now().AddDate(0, 0, 2).UTC().Format(time.RFC3339)

	for _, tc := range []struct {
		name    string
		plain   []byte
		inspect int    // exit code of inspect
		issue   int    // exit code of issue
		want    string // in the error, when not 0
	}{
		{"genuine", []byte(genuine), 0, 0, ""},
		{"compact", edit(func(map[string]any) {}), 0, 0, ""},
		{"unknown-field", set("comment", "hi"), 2, 2, "unknown member"},
		{"duplicate-key", bytes.Replace([]byte(genuine), []byte(`"license_key": "`+secretKey+`",`),
			[]byte(`"license_key": "`+secretKey+`", "license_key": "OEM-OTHE-RKEY-0000",`), 1), 2, 2, "appears twice"},
		{"trailing-data", append([]byte(genuine), []byte(`{"format":"olr-request/v1"}`)...), 2, 2, "trailing data"},
		{"format-v3", set("format", "olr-request/v3"), 2, 2, "unsupported request format"},
		{"format-v2-without-tpm", set("format", "olr-request/v2"), 2, 2, `no member "tpm"`},
		{"no-format", edit(func(m map[string]any) { delete(m, "format") }), 2, 2, "format"},
		{"bad-id", set("request_id", "1234"), 2, 2, "request ID"},
		{"key-control-char", set("license_key", secretKey+"\x1b[2J"), 2, 2, "license key"},
		{"key-newline", set("license_key", secretKey+"\nX"), 2, 2, "license key"},
		{"key-number", set("license_key", 42), 2, 2, "license_key"},
		{"licensee-long", set("licensee", strings.Repeat("L", 300)), 2, 2, "licensee"},
		{"no-factors", edit(func(m map[string]any) { m["fingerprint"].(map[string]any)["factors"] = []any{} }), 2, 2, "no factor"},
		{"factor-not-normal", edit(func(m map[string]any) {
			f := m["fingerprint"].(map[string]any)["factors"].([]any)
			for _, x := range f {
				if x.(map[string]any)["kind"] == "mac" {
					x.(map[string]any)["value"] = "52:54:00:8A:3C:51"
				}
			}
		}), 2, 2, "normal form"},
		{"created-bad", set("created", "yesterday"), 2, 2, "creation time"},
		{"too-old", set("created", old), 0, 1, "more than 30 days ago"},
		{"from-future", set("created", future), 0, 1, "in the future"},
		{"not-json", []byte("hello, vendor"), 2, 2, "malformed request"},
		{"empty", []byte{}, 2, 2, "malformed request"},
		{"array", []byte("[]"), 2, 2, "malformed request"},

		// SPEC.md section 2, decided one by one.
		{"no-final-newline", []byte(strings.TrimSuffix(genuine, "\n")), 2, 2, "not followed by a newline"},
		{"space-before", []byte(" " + genuine), 2, 2, "must start with '{'"},
		{"lone-surrogate", raw(`"licensee": "Example Backup Ltd"`, `"licensee": "Example \ud800 Ltd"`), 2, 2, "surrogate"},
		{"member-case", raw(`"licensee":`, `"Licensee":`), 2, 2, "unknown member"},
		{"no-machine", edit(func(m map[string]any) { delete(m["fingerprint"].(map[string]any), "machine") }), 2, 2, `no member "machine"`},
		{"machine-empty", fpSet("machine", map[string]any{}), 2, 2, `no member "class"`},
		{"machine-null", fpSet("machine", nil), 2, 2, `"machine"`},
		{"removable-null", factorSet("mac", "removable", nil), 2, 2, `"removable"`},
		{"format-v3-new-member", edit(func(m map[string]any) { m["format"] = "olr-request/v3"; m["tpm_quote"] = "x" }), 2, 2, "unsupported request format"},
		{"class-empty", fpSet("machine", map[string]any{"class": ""}), 2, 2, "machine class"},
		{"class-unknown", fpSet("machine", map[string]any{"class": "mainframe"}), 2, 2, "machine class"},
		{"tpm-no-algorithm", edit(func(m map[string]any) {
			f := m["fingerprint"].(map[string]any)
			f["factors"] = append(f["factors"].([]any), map[string]any{"kind": "tpm-ek", "value": strings.Repeat("ab", 32), "source": "tpm"})
		}), 2, 2, "TPM name"},
		{"ip-broadcast", edit(func(m map[string]any) {
			f := m["fingerprint"].(map[string]any)
			f["factors"] = append(f["factors"].([]any), map[string]any{"kind": "ip", "value": "255.255.255.255", "source": "eth0"})
		}), 2, 2, "not a unicast address"},
		{"licensee-bidi", set("licensee", "Example \u202eLtd"), 2, 2, "U+202E"},
		{"hostname-zero-width", set("hostname", "backup\u200b01"), 2, 2, "U+200B"},
		{"note-bidi", fpSet("notes", []any{"skipped \u2066x\u2069"}), 2, 2, "U+2066"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".olr")
			var buf bytes.Buffer
			aw := armor.NewWriter(&buf)
			w, err := age.Encrypt(aw, recipient)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(tc.plain)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := aw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			check := func(what string, r result, code int) {
				t.Helper()
				if r.code != code {
					t.Errorf("%s: exit %d, want %d\n%s", what, r.code, code, r.stderr)
				}
				if code == 0 {
					return
				}
				if !strings.Contains(r.stderr, tc.name+".olr") {
					t.Errorf("%s: the error does not name the file:\n%s", what, r.stderr)
				}
				// The file name holds the case's name: look past it.
				if !strings.Contains(strings.ReplaceAll(r.stderr, file, ""), tc.want) {
					t.Errorf("%s: the error does not say %q:\n%s", what, tc.want, r.stderr)
				}
				if !strings.Contains("\n"+r.stderr, "\nolr-sign: error: ") {
					t.Errorf("%s: no olr-sign: error: line on stderr:\n%s", what, r.stderr)
				}
				for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
					if !strings.HasPrefix(line, "olr-sign: ") {
						t.Errorf("%s: a stderr line without the prefix: %q", what, line)
					}
				}
				if strings.Contains(r.stderr, secretKey) || strings.Contains(r.stdout, secretKey) {
					t.Errorf("%s: the license key appears in the output:\n%s%s", what, r.stdout, r.stderr)
				}
			}
			check("inspect", run(t, dir, "olr-sign", "inspect", "-i", key, file), tc.inspect)
			out := filepath.Join(dir, tc.name+".license")
			r := run(t, dir, "olr-sign", "issue", "--no-ledger", "-i", key, "-o", out, file)
			check("issue", r, tc.issue)
			if _, err := os.Stat(out); (err == nil) != (tc.issue == 0) {
				t.Errorf("issue exit %d, license written: %v", r.code, err == nil)
			}
		})
	}
}
