package cliutil

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

// PassphraseEnv names the environment variable that supplies the key
// passphrase to non-interactive runs (batch issuing, scripts).
const PassphraseEnv = "OLR_PASSPHRASE"

// Passphrase returns the key passphrase from $OLR_PASSPHRASE, or asks on
// the terminal without echo. confirm asks twice, for a new key.
func Passphrase(prompt string, confirm bool) (string, error) {
	if p, ok := os.LookupEnv(PassphraseEnv); ok {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", WithHint(errors.New("a passphrase is needed and there is no terminal to ask for it"), ExitUsage,
			"set "+PassphraseEnv+" in the environment")
	}
	defer tty.Close()
	read := func(p string) (string, error) {
		fmt.Fprint(tty, p)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(b), err
	}
	p, err := read(prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := read("Repeat the passphrase: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", Usagef("the passphrases do not match")
		}
	}
	return p, nil
}
