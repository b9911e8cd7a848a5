package signer

import (
	"fmt"
	"strings"
	"unicode"
)

// How two names that should be the same differ: what the issuing rules
// and the support desk tell the vendor when a request's licensee or key
// is not the one sold.

// Difference says how two names that should be the same differ, or
// returns "" when they are equal: in case only, in Unicode form
// (combining marks), or at a named character.
func Difference(got, want string) string {
	if got == want {
		return ""
	}
	if strings.EqualFold(got, want) {
		return "they differ only in case (" + firstDiff(got, want) + "), and names are case sensitive"
	}
	if r, ok := combiningMark(got + want); ok && FoldMarks(got) == FoldMarks(want) {
		return fmt.Sprintf("they look alike but one is written with a combining mark (U+%04X, decomposed Unicode), the other with a precomposed letter; %s", r, firstDiff(got, want))
	}
	return firstDiff(got, want)
}

// firstDiff names the first character where got and want differ.
func firstDiff(got, want string) string {
	gr, wr := []rune(got), []rune(want)
	for i := 0; ; i++ {
		switch {
		case i >= len(gr) && i >= len(wr):
			// The same runes from different bytes: invalid UTF-8 decodes
			// to U+FFFD whatever the bytes were.
			return "they differ in bytes that are not valid UTF-8"
		case i >= len(gr):
			return fmt.Sprintf("the request's is shorter: it ends before character %d (%s)", i+1, runeName(wr[i]))
		case i >= len(wr):
			return fmt.Sprintf("the request's is longer: character %d (%s) is not in the name sold", i+1, runeName(gr[i]))
		case gr[i] != wr[i]:
			return fmt.Sprintf("character %d is %s in the request and %s as sold", i+1, runeName(gr[i]), runeName(wr[i]))
		}
	}
}

func runeName(r rune) string {
	if unicode.IsPrint(r) && r != ' ' {
		return fmt.Sprintf("%q (U+%04X)", r, r)
	}
	return fmt.Sprintf("U+%04X", r)
}

// combiningMark returns the first combining mark in s: a sign that a name
// is in decomposed form (as macOS types "ü" as "u" + U+0308).
func combiningMark(s string) (rune, bool) {
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			return r, true
		}
	}
	return 0, false
}

// FoldMarks lowers s and folds the common precomposed Latin letters to
// their base letter, dropping combining marks, so that "Müller",
// "MÜLLER" and "Mu\u0308ller" compare equal: a hint for support staff,
// never a match.
func FoldMarks(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if base, ok := latinBase[r]; ok {
			r = base
		}
		b.WriteRune(r)
	}
	return b.String()
}

// latinBase maps precomposed Latin-1 letters to their base letter.
var latinBase = func() map[rune]rune {
	m := map[rune]rune{}
	for base, letters := range map[rune]string{
		'a': "àáâãäå", 'c': "ç", 'e': "èéêë", 'i': "ìíîï", 'n': "ñ", 'o': "òóôõöø", 'u': "ùúûü", 'y': "ýÿ",
	} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()
