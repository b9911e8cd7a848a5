// Package safetext prepares text that olr-sign did not write itself (what
// a customer put in a request, a file name in a drop directory, a line of
// a sales export) for a message on the vendor's terminal or in a report.
//
// Such text is quoted Go-style, so that control characters, escape
// sequences, bidirectional overrides and zero-width characters show as
// escapes instead of acting on the terminal or hiding in a name; it is
// cut to a bounded length, so that one field cannot flood a summary; and
// anything that looks like secret key material is withheld, never
// echoed, whatever file it was found in.
package safetext

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxRunes is how many characters of a value Quote shows.
const MaxRunes = 80

// Withheld replaces a value that holds secret key material.
const Withheld = "(secret key material, withheld)"

// secretMarkers are the spellings of olr's and age's secret keys, matched
// without regard to case: bech32 may be written in either.
var secretMarkers = []string{
	"age-secret-key-",                    // an age X25519 or hybrid identity
	"age-plugin-",                        // an age plugin identity (AGE-PLUGIN-...-1...)
	"olr-signing-key/",                   // an olr signing key file
	"-----begin age encrypted file-----", // a sealed key file
}

// LooksSecret reports whether s holds, or starts to hold, secret key
// material: an age identity, an olr signing key, or a seed line.
func LooksSecret(s string) bool {
	low := strings.ToLower(s)
	for _, m := range secretMarkers {
		if strings.Contains(low, m) {
			return true
		}
	}
	return strings.Contains(low, "seed: ")
}

// Quote returns s quoted with Go's escapes (strconv.Quote), cut after
// MaxRunes characters (marked with "..." after the closing quote), or
// Withheld when s looks like secret key material.
func Quote(s string) string {
	return QuoteN(s, MaxRunes)
}

// QuoteN is Quote with a limit of n characters.
func QuoteN(s string, n int) string {
	if LooksSecret(s) {
		return Withheld
	}
	cut := false
	if utf8.RuneCountInString(s) > n {
		i, count := 0, 0
		for i = range s {
			if count == n {
				break
			}
			count++
		}
		s, cut = s[:i], true
	}
	q := strconv.Quote(s)
	if cut {
		q += "..."
	}
	return q
}

// secretToken matches the secret keys a message must never show, as
// age and olr write them: an age identity in bech32, and a seed line.
var secretToken = regexp.MustCompile(`(?i)age-(secret-key|plugin-[a-z0-9._-]+)-1[0-9a-z]*|seed: ?[A-Za-z0-9+/=]*`)

// MaxMessage bounds what Sanitize keeps of a message, in bytes.
const MaxMessage = 4096

// Sanitize returns s with any secret key it holds withheld, every
// character that is not printable (control characters, escape
// sequences, bidirectional and zero-width characters, invalid UTF-8)
// written as a Go escape, and cut after MaxMessage bytes. It is the net for a message that may hold pieces of
// text nobody quoted: nothing in it can act on a terminal.
func Sanitize(s string) string {
	s = secretToken.ReplaceAllString(s, Withheld)
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean && len(s) <= MaxMessage {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= MaxMessage {
			b.WriteString("...")
			break
		}
		switch {
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// MaxFieldRunes is how many characters of a value Field shows: enough
// for any text a request may hold (a collector's note, the longest, is at
// most 512 bytes), so that a listing shows values whole.
const MaxFieldRunes = 512

// Field shows a value in a listing (a table cell, a "name: value"
// line): as it is when that is unambiguous and harmless (printable
// characters only, no quote or backslash, no leading or trailing space,
// at most MaxFieldRunes characters), else quoted as Quote does (cut
// after MaxFieldRunes). A quoted field is told from a bare one by its
// quote, which a bare one never holds.
func Field(s string) string {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || LooksSecret(s) || utf8.RuneCountInString(s) > MaxFieldRunes {
		return QuoteN(s, MaxFieldRunes)
	}
	for _, r := range s {
		if r == '"' || r == '\\' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return QuoteN(s, MaxFieldRunes)
		}
	}
	return s
}
