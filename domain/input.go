package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of what the database can hold, applied where input enters (the HTTP
// binder, the query and path readers) so that no value a client sends reaches
// PostgreSQL only to be refused there.
const (
	// MinInt32 and MaxInt32 bound every integer stored in an int column.
	MinInt32 = -1 << 31
	MaxInt32 = 1<<31 - 1
	// MinYear and MaxYear bound every date and time a client sends: the mall
	// has no business before 2000 or after 2100, and PostgreSQL has no year 0.
	MinYear = 2000
	MaxYear = 2100
)

// ValidText reports whether s is text PostgreSQL can store: valid UTF-8 with
// no NUL character.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// InRangeYear reports whether t falls within MinYear…MaxYear.
func InRangeYear(t time.Time) bool {
	y := t.Year()
	return y >= MinYear && y <= MaxYear
}

// InvalidText refuses text that is not valid UTF-8 or holds a NUL character,
// naming each field.
func InvalidText(fields ...string) *Error {
	fs := make([]FieldError, len(fields))
	for i, f := range fields {
		fs[i] = FieldError{Field: f, Code: "invalid_text", Message: "must be valid UTF-8 text without NUL characters"}
	}
	e := Invalid(fs...)
	e.Code = "invalid_text"
	return e
}

// OutOfRange refuses numbers and dates beyond what the mall can store.
func OutOfRange(fields ...FieldError) *Error {
	e := Invalid(fields...)
	e.Code = "out_of_range"
	return e
}
