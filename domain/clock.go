package domain

import (
	"log/slog"
	"time"
)

// Shanghai is the business time zone: business days, birthdays and report
// buckets are in Asia/Shanghai. It falls back to a fixed UTC+8 zone when the
// system has no tz database.
var Shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}()

// Clock returns the current time. Services take one so tests can move time.
type Clock func() time.Time

// Page is a cursor page request: Limit is already bounded by the adapter.
type Page struct {
	Cursor string
	Limit  int
}

const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// BoundLimit clamps a requested page size to [1, MaxPageLimit], 0 meaning the default.
func BoundLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > MaxPageLimit:
		return MaxPageLimit
	}
	return n
}

// Now is c's time, or the wall clock's when c is nil (a Service built
// without one).
func (c Clock) Now() time.Time {
	if c != nil {
		return c()
	}
	return time.Now()
}

// Logger returns l, or a logger that discards when l is nil (services take
// an optional one, as they take an optional Clock).
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
