package signer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// ErrPassphrase is returned when an encrypted key cannot be opened with
// the passphrase given.
var ErrPassphrase = errors.New("wrong passphrase, or the key file is damaged")

// maxKeyFile bounds a secret key file; a hybrid identity is about 2 KiB.
const maxKeyFile = 64 << 10

// sealSecret encrypts a secret key file's text to passphrase with age's
// scrypt recipient, in ASCII armor.
func sealSecret(text, passphrase string) (string, error) {
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, text); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return out.String(), nil
}

// passCache asks for the passphrase once for both secret files.
type passCache struct {
	get  func() (string, error)
	pass string
	have bool
}

func (p *passCache) passphrase(path string) (string, error) {
	if p.have {
		return p.pass, nil
	}
	if p.get == nil {
		return "", fmt.Errorf("%s is encrypted with a passphrase, and none was given", path)
	}
	pass, err := p.get()
	if err != nil {
		return "", err
	}
	if pass == "" {
		return "", fmt.Errorf("%s is encrypted: an empty passphrase cannot open it", path)
	}
	p.pass, p.have = pass, true
	return pass, nil
}

// IsEncrypted reports whether a key file's content is an age file (and so
// needs a passphrase).
func IsEncrypted(data []byte) bool {
	t := bytes.TrimLeft(data, "\r\n\t ")
	return bytes.HasPrefix(t, []byte(armor.Header)) || bytes.HasPrefix(t, []byte("age-encryption.org/"))
}

// readSecret reads a secret key file, decrypting it when it is sealed.
func readSecret(path string, pass *passCache) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is too large to be a key file", path)
	}
	if !IsEncrypted(data) {
		return data, nil
	}
	p, err := pass.passphrase(path)
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(p)
	if err != nil {
		return nil, err
	}
	var src io.Reader = bytes.NewReader(data)
	if strings.HasPrefix(string(bytes.TrimLeft(data, "\r\n\t ")), armor.Header) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrPassphrase)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrPassphrase)
	}
	return plain, nil
}
