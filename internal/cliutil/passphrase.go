package cliutil

import (
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
	return secret(PassphraseEnv, prompt, confirm, "passphrase")
}

// Password returns a new account password from the environment variable
// env, or asks for it twice on the terminal without echo.
func Password(env, prompt string) (string, error) { return secret(env, prompt, true, "password") }

// secret reads what (a passphrase, a password) from env or the terminal.
func secret(env, prompt string, confirm bool, what string) (string, error) {
	if p, ok := os.LookupEnv(env); ok {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", WithHint(fmt.Errorf("a %s is needed and there is no terminal to ask for it", what), ExitUsage,
			"set "+env+" in the environment")
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
			return "", Usagef("the %ss do not match", what)
		}
	}
	return p, nil
}
