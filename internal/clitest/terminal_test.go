package clitest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// hostile are texts a hostile machine side puts where olr-sign prints:
// terminal escape sequences (clear the screen, set the window title,
// move the cursor), a bidirectional override, a zero-width space, and a
// line that would pass for one of olr-sign's own.
var hostile = map[string]string{
	"escape":     "\x1b[2J\x1b]0;pwned\x07\x1b[1A",
	"bidi":       "Example \u202eLtd",
	"zero-width": "backup\u200b01",
	"forged":     "x\nolr-sign: 99 requests: 99 issued",
}

// terminalUnsafe reports the first character of out that could act on a
// terminal or hide in a name, or -1.
func terminalUnsafe(out string) rune {
	for _, r := range out {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0,
			r >= 0x200b && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029, r == 0xfeff:
			return r
		}
	}
	return -1
}

// TestNoEscapeReachesTheTerminal feeds olr-sign requests whose texts and
// file names hold escape sequences and invisible characters, through
// inspect, issue (single and --batch) and audit: whatever each makes of
// them (refusal or report), nothing unsafe reaches stdout or stderr, and
// no line of stderr is forged.
func TestNoEscapeReachesTheTerminal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "vendor.key")
	mustRun(t, dir, "olr-sign", "keygen", "--unencrypted", "--x25519", "-o", key)
	rcpt, err := os.ReadFile(key + ".recipient")
	if err != nil {
		t.Fatal(err)
	}
	recipient, err := age.ParseX25519Recipient(strings.TrimSpace(string(rcpt)))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "olr", "request", "--vendor", key+".recipient", "--licensee", "Example Backup Ltd",
		"--key", "OEM-AAAA-0001", "--root", hostRoot(t, "kvm"), "-o", filepath.Join(dir, "genuine.olr"))
	genuine := mustRun(t, dir, "olr-sign", "inspect", "--json", "-i", key, filepath.Join(dir, "genuine.olr")).stdout
	ledgerPath := filepath.Join(dir, "ledger.db")
	csv := filepath.Join(dir, "keys.csv")
	if err := os.WriteFile(csv, []byte("license_key,licensee,type,product,modules,languages,expires,maintenance\n"+
		"OEM-AAAA-0001,Example Backup Ltd,oem,backup-server,obm=5,en,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, dir, "olr-sign", "keys", "import", "--create", "--ledger", ledgerPath, csv)

	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, plain []byte) string {
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		w, err := age.Encrypt(aw, recipient)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := aw.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(in, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
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
		return b
	}
	var files []string
	for label, text := range hostile {
		files = append(files,
			write("hostname-"+label+".olr", edit(func(m map[string]any) { m["hostname"] = text })),
			write("licensee-"+label+".olr", edit(func(m map[string]any) { m["licensee"] = text })),
			write("kind-"+label+".olr", edit(func(m map[string]any) {
				m["fingerprint"].(map[string]any)["factors"].([]any)[0].(map[string]any)["kind"] = text
			})),
			write("note-"+label+".olr", edit(func(m map[string]any) {
				m["fingerprint"].(map[string]any)["notes"] = []any{text}
			})),
			write("source-"+label+".olr", edit(func(m map[string]any) {
				m["fingerprint"].(map[string]any)["factors"].([]any)[0].(map[string]any)["source"] = text
			})))
	}
	// File names as hostile as the texts, holding a genuine request.
	data, err := os.ReadFile(filepath.Join(dir, "genuine.olr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"evil\x1b[2Jname.olr", "line\nolr-sign: 99 requests forged.olr", "rtl\u202eslo.olr"} {
		if err := os.WriteFile(filepath.Join(in, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	check := func(what string, r result) {
		t.Helper()
		for _, out := range []string{r.stdout, r.stderr} {
			if c := terminalUnsafe(out); c >= 0 {
				t.Errorf("%s: %U reached the terminal:\n%s", what, c, out)
			}
		}
		for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			if line != "" && !strings.HasPrefix(line, "olr-sign: ") {
				t.Errorf("%s: a stderr line without the prefix: %q", what, line)
			}
			if strings.HasPrefix(line, "olr-sign: 99 ") {
				t.Errorf("%s: a forged summary line: %q", what, line)
			}
		}
	}
	for _, f := range files {
		name := filepath.Base(f)
		check("inspect "+name, run(t, dir, "olr-sign", "inspect", "-i", key, f))
		check("issue "+name, run(t, dir, "olr-sign", "issue", "-i", key, "--ledger", ledgerPath, "--allow-weak", "test", "-o", filepath.Join(dir, "out.olr"), f))
	}
	check("issue --batch", run(t, dir, "olr-sign", "issue", "-i", key, "--ledger", ledgerPath, "--allow-weak", "test", "--batch", in, "-o", filepath.Join(dir, "out")))
	check("audit", run(t, dir, "olr-sign", "audit", "-i", key, in))
	check("audit --ledger", run(t, dir, "olr-sign", "audit", "-i", key, "--ledger", ledgerPath, in))
}
