package portal

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/google/go-tpm/tpm2"

	"github.com/olr-dev/olr/fingerprint"
	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/olr/olrtest"
	"github.com/olr-dev/olr/signer"
)

// TestIssueThroughAPI answers a request as a script would: inspect (a
// dry run), issue, download, then the same request again (a replay) and
// another machine for the same key (refused).
func TestIssueThroughAPI(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	req := e.request(testLicensee, oemKey, 1)

	var ins inspectView
	c.post("/api/inspect", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &ins)
	if len(ins.Requests) != 1 || ins.Requests[0].Verdict == nil {
		t.Fatalf("inspect: %+v", ins)
	}
	r := ins.Requests[0]
	if r.Verdict.Outcome != "issued" || r.Sale == nil || r.Sale.Type != "oem" || r.Request.LicenseKey != oemKey {
		t.Fatalf("inspect: verdict %+v, sale %+v", r.Verdict, r.Sale)
	}
	if len(r.Names) != 2 || !r.Names[0].Match || !r.Names[1].Match {
		t.Fatalf("names: %+v", r.Names)
	}
	before := e.head()
	var issued IssuedView
	c.post("/api/issue", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &issued)
	if issued.Outcome != "issued" || !strings.HasPrefix(issued.License, "-----BEGIN OLR LICENSE-----") {
		t.Fatalf("issue: %+v", issued)
	}
	if e.head().Seq <= before.Seq {
		t.Fatal("the activation is not in the audit log")
	}
	lic, err := olr.ParseLicense([]byte(issued.License), e.keys.Trust())
	if err != nil || lic.ID != issued.LicenseID || lic.Licensee != testLicensee {
		t.Fatalf("issued license: %v %+v", err, lic)
	}
	file := c.get("/api/licenses/" + issued.LicenseID + "/license.olr")
	if file.StatusCode != http.StatusOK || file.Body != issued.License ||
		!strings.Contains(file.Header.Get("Content-Disposition"), `filename="license.olr"`) {
		t.Fatalf("download: %s %q", file.Status, file.Header.Get("Content-Disposition"))
	}
	// The audit log names the account that issued.
	var audit auditView
	c.get("/api/audit?action=activate").decode(t, http.StatusOK, &audit)
	if len(audit.Records) != 1 || audit.Records[0].Operator != "sam" {
		t.Fatalf("audit: %+v", audit.Records)
	}

	var again IssuedView
	c.post("/api/issue", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &again)
	if again.Outcome != "replayed" || again.LicenseID != issued.LicenseID {
		t.Fatalf("replay: %+v", again)
	}

	other := e.request(testLicensee, oemKey, 2)
	c.post("/api/inspect", url.Values{"text": {string(other)}}).decode(t, http.StatusOK, &ins)
	if v := ins.Requests[0].Verdict; v.Outcome != "refused" || v.Rule != signer.RuleOneKeyOneMachine || !v.CanTransfer {
		t.Fatalf("other machine: %+v", v)
	}
	var refused RefusedView
	c.post("/api/issue", url.Values{"text": {string(other)}}).decode(t, http.StatusConflict, &refused)
	if refused.Rule != signer.RuleOneKeyOneMachine || !strings.Contains(refused.CustomerText, "only be used on one machine") {
		t.Fatalf("refusal: %+v", refused)
	}
	// Support may not transfer; an admin may.
	resp := c.post("/api/issue", url.Values{"text": {string(other)}, "transfer": {"new server"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("support transfer: %s", resp.Status)
	}
	admin := e.client().login("ada")
	var moved IssuedView
	admin.post("/api/issue", url.Values{"text": {string(other)}, "transfer": {"new server"}}).decode(t, http.StatusOK, &moved)
	if moved.Outcome != "transferred" || moved.Superseded != issued.LicenseID {
		t.Fatalf("transfer: %+v", moved)
	}
	var key keyView
	c.get("/api/keys/"+oemKey).decode(t, http.StatusOK, &key)
	if key.Active != moved.LicenseID || len(key.Licenses) != 2 {
		t.Fatalf("key: %+v", key)
	}
	kinds := ""
	for i, ev := range key.History {
		if i > 0 && ev.Time.Before(key.History[i-1].Time) {
			t.Fatalf("history out of order: %+v", key.History)
		}
		kinds += ev.Kind + " "
	}
	for _, k := range []string{"license", "activation", "transfer", "revocation"} {
		if !strings.Contains(kinds, k) {
			t.Fatalf("history lacks a %s: %s", k, kinds)
		}
	}
}

// TestEvaluationKeyRefused: offline activation is only for OEM keys; the
// refusal carries the rule's own words.
func TestEvaluationKeyRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	req := e.request(testLicensee, evalKey, 1)
	var ins inspectView
	c.post("/api/inspect", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &ins)
	v := ins.Requests[0].Verdict
	if v.Outcome != "refused" || v.Rule != "offline-oem-only" || !strings.Contains(v.Message, olr.OfflineActivationRule) {
		t.Fatalf("verdict: %+v", v)
	}
	before := e.head()
	var refused RefusedView
	c.post("/api/issue", url.Values{"text": {string(req)}}).decode(t, http.StatusConflict, &refused)
	if !strings.Contains(refused.CustomerText, "Meter, Active Pool and Evaluation keys do not support offline activation") {
		t.Fatalf("customer text: %q", refused.CustomerText)
	}
	if e.head() != before {
		t.Fatal("a refusal changed the ledger")
	}
}

// TestNameDifferences: a licensee that differs in case, or in Unicode
// form, and a key typed in the wrong case are explained.
func TestNameDifferences(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	for _, tc := range []struct {
		licensee, key string
		field, want   string
	}{
		{"EXAMPLE BACKUP LTD", oemKey, "licensee", "differ only in case"},
		{"Example Backup Ltd.", oemKey, "licensee", "longer"},
		{testLicensee, strings.ToLower(oemKey), "license key", "differ only in case"},
	} {
		var ins inspectView
		c.post("/api/inspect", url.Values{"text": {string(e.request(tc.licensee, tc.key, 1))}}).decode(t, http.StatusOK, &ins)
		r := ins.Requests[0]
		found := false
		for _, n := range r.Names {
			if n.Field == tc.field && !n.Match && strings.Contains(n.Explanation, tc.want) {
				found = true
			}
		}
		if !found || r.Verdict.Outcome != "refused" {
			t.Errorf("%q %q: names %+v, verdict %+v", tc.licensee, tc.key, r.Names, r.Verdict)
		}
	}
	if d := signer.Difference("Mu\u0308ller GmbH", "Müller GmbH"); !strings.Contains(d, "combining mark (U+0308") {
		t.Errorf("decomposed name: %s", d)
	}
}

// TestFindings: a second key requested from the same machine is a
// shared machine; a clone of the disk image (only the machine-id shared)
// is a clone; a software TPM and a container are named.
func TestFindings(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	var issued IssuedView
	c.post("/api/issue", url.Values{"text": {string(e.request(testLicensee, oemKey, 1))}}).decode(t, http.StatusOK, &issued)

	kinds := func(req []byte) string {
		t.Helper()
		var ins inspectView
		c.post("/api/inspect", url.Values{"text": {string(req)}}).decode(t, http.StatusOK, &ins)
		var k []string
		for _, f := range ins.Requests[0].Findings {
			k = append(k, f.Kind)
		}
		return strings.Join(k, " ")
	}
	if got := kinds(e.request(testLicensee, "OEM-SECOND-KEY-0002", 1)); !strings.Contains(got, "shared-machine") {
		t.Errorf("same machine, second key: findings %q", got)
	}
	clone := machine(3)
	for i, f := range clone.Factors {
		if f.Kind == fingerprint.KindMachineID {
			clone.Factors[i].Value = machine(1).Factors[i].Value
		}
	}
	if got := kinds(e.encrypt(clone, "OEM-SECOND-KEY-0002")); !strings.Contains(got, "clone") {
		t.Errorf("cloned image: findings %q", got)
	}
	soft := olrtest.Only(machine(4), fingerprint.KindMAC, fingerprint.KindTPMEK)
	for i := range soft.Factors {
		if soft.Factors[i].Kind == fingerprint.KindTPMEK {
			soft.Factors[i].Source = "tpm:sim (in-process simulator)"
		}
	}
	soft.Machine = fingerprint.MachineKind{Class: fingerprint.ClassContainer, Detail: "docker"}
	got := kinds(e.encrypt(soft, "OEM-SECOND-KEY-0002"))
	for _, want := range []string{"software-tpm", "container"} {
		if !strings.Contains(got, want) {
			t.Errorf("software TPM in a container: findings %q lack %s", got, want)
		}
	}
}

func (e *env) encrypt(fp *fingerprint.Fingerprint, key string) []byte {
	e.t.Helper()
	req, err := olr.NewRequest(testProduct, testLicensee, key, "host", "test", fp, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true)
	if err != nil {
		e.t.Fatal(err)
	}
	return data
}

// TestAdminPages: an admin imports keys sold through the desk and lists
// the accounts; every sign-in is in the audit log under its account.
func TestAdminPages(t *testing.T) {
	e := newEnv(t)
	ada := e.client().login("ada")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "sales-2026-11.csv")
	fw.Write([]byte("license_key,licensee,type,product,modules,languages,expires,maintenance\nOEM-NEW-0001,New Customer GmbH,oem,backup-server,obm=10;vmware-vm=4,de,,\n"))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/keys/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var imported importedView
	ada.do(req).decode(t, http.StatusOK, &imported)
	if len(imported.Created) != 1 || imported.Created[0] != "OEM-NEW-0001" {
		t.Fatalf("import: %+v", imported)
	}
	var key keyView
	ada.get("/api/keys/OEM-NEW-0001").decode(t, http.StatusOK, &key)
	if key.Sale.Licensee != "New Customer GmbH" || len(key.Sale.Modules) != 2 {
		t.Fatalf("imported key: %+v", key.Sale)
	}
	var keys keysView
	ada.get("/api/keys?q=gmbh").decode(t, http.StatusOK, &keys)
	if keys.Total != 1 || keys.Keys[0].Key != "OEM-NEW-0001" {
		t.Fatalf("search: %+v", keys)
	}
	var accounts accountsView
	ada.get("/api/accounts").decode(t, http.StatusOK, &accounts)
	if len(accounts.Accounts) != 3 || strings.Contains(fmt.Sprint(accounts), "argon2id") {
		t.Fatalf("accounts: %+v", accounts)
	}
	var audit auditView
	ada.get("/api/audit?action="+ActionLogin).decode(t, http.StatusOK, &audit)
	if len(audit.Records) != 1 || audit.Records[0].Operator != "ada" {
		t.Fatalf("sign-ins in the audit log: %+v", audit.Records)
	}
	ada.get("/api/audit?action=keys.import&operator=ada").decode(t, http.StatusOK, &audit)
	if len(audit.Records) != 1 {
		t.Fatalf("the import in the audit log: %+v", audit.Records)
	}
}

// TestInspectMany: several request files and pasted requests in one
// submission are inspected together, each on its own; one that cannot be
// read does not stop the others, and the requests of one submission are
// audited together: one machine under two keys, one key from two
// machines.
func TestInspectMany(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	var ins inspectView
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"first.olr", e.request(testLicensee, oemKey, 7)},
		{"notes.txt", []byte("meeting notes, not a request")},
		{"second.olr", e.request(testLicensee, "OEM-SECOND-KEY-0002", 7)},
	} {
		fw, _ := mw.CreateFormFile("request", f.name)
		fw.Write(f.data)
	}
	mw.WriteField("text", string(e.request(testLicensee, evalKey, 8))+"\n"+string(e.request(testLicensee, oemKey, 9)))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/inspect", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	c.do(req).decode(t, http.StatusOK, &ins)
	var got []string
	for _, r := range ins.Requests {
		s := r.Source + ":"
		if r.Error != "" {
			s += "error"
		} else {
			s += r.Verdict.Outcome
			for _, f := range r.Findings {
				s += "+" + f.Kind
			}
		}
		got = append(got, s)
	}
	want := `"first.olr":issued+shared-machine+shared-key "notes.txt":error "second.olr":issued+shared-machine pasted request 1:refused pasted request 2:issued+shared-key`
	if strings.Join(got, " ") != want {
		t.Fatalf("inspections:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}

// TestTPMFindings: a request carrying the endorsement key of a software
// TPM (manufacturer IBM: swtpm) without a certificate is flagged as
// unattested and as a software TPM.
func TestTPMFindings(t *testing.T) {
	e := newEnv(t)
	c := e.client().login("sam")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := key.PublicKey.Bytes()
	pub := tpm2.ECCEKTemplate
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: p[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: p[33:]}})
	req, err := olr.NewRequest(testProduct, testLicensee, oemKey, "host", "test", machine(1), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := req.AttachTPM(&olr.RequestTPM{Manufacturer: "IBM", EKs: []olr.RequestEK{{Kind: olr.TPMKindECCP256, Public: tpm2.Marshal(pub)}}}); err != nil {
		t.Fatal(err)
	}
	data, err := olr.EncryptRequest(req, []age.Recipient{e.rcpt}, true)
	if err != nil {
		t.Fatal(err)
	}
	var ins struct {
		Requests []struct{ Findings []Finding }
	}
	c.post("/api/inspect", formText(data)).decode(t, http.StatusOK, &ins)
	var kinds []string
	for _, f := range ins.Requests[0].Findings {
		kinds = append(kinds, f.Kind+": "+f.Message)
	}
	got := strings.Join(kinds, "\n")
	if !strings.Contains(got, "unattested-tpm: the ecc-p256 endorsement key is not attested") || !strings.Contains(got, "software-tpm: the TPM looks software or virtual (manufacturer IBM") {
		t.Fatalf("findings:\n%s", got)
	}
}
