// Package ident validates the names that travel inside NATS subjects and KV
// keys: pc ids, group names, job ids and schedule ids (SPEC §2).
package ident

import (
	"fmt"
	"regexp"
	"strings"
)

var pattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// Valid reports whether s may be used as an id inside a subject or key.
func Valid(s string) bool { return pattern.MatchString(s) }

// Check returns an error naming the field and the offending value when s is
// not a valid id. The value is quoted so that blanks and dots stay visible.
func Check(field, s string) error {
	if Valid(s) {
		return nil
	}
	if s == "" {
		return fmt.Errorf("%s: must not be empty", field)
	}
	return fmt.Errorf("%s: invalid id %q (want letters, digits, '_' or '-', starting with a letter or digit, at most 128)", field, s)
}

// Sanitize turns a host name into a valid pc id: characters outside the
// allowed set become '-', and the result is cut to 128 characters. It is
// used only for the default pc id; explicit ids are validated, never rewritten.
func Sanitize(host string) string {
	var b strings.Builder
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), "-_")
	if len(s) > 128 {
		s = s[:128]
	}
	if s == "" {
		return "pc"
	}
	return s
}
