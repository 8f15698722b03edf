package reconcile

import (
	"errors"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

func TestParseDate(t *testing.T) {
	// 2026-12-01 01:30 in Beijing is still 2026-11-30 in UTC.
	now := time.Date(2026, 12, 1, 1, 30, 0, 0, domain.Shanghai)
	for date, want := range map[string]error{
		"2026-11-30": nil,        // yesterday in Beijing
		"2026-09-02": nil,        // 90 days back
		"2026-12-01": ErrNotYet,  // today: the bill comes tomorrow
		"2026-12-02": ErrNotYet,  // the future
		"2026-09-01": ErrBadDate, // over 90 days
		"2026-02-30": ErrBadDate,
		"2026-11-3":  ErrBadDate,
		"":           ErrBadDate,
	} {
		_, err := ParseDate(date, now)
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("ParseDate(%q) = %v, want %v", date, err, want)
		}
	}
}

func TestKindValid(t *testing.T) {
	for _, k := range Kinds {
		if !k.Valid() {
			t.Errorf("%s not valid", k)
		}
	}
	if Kind("typo").Valid() || Kind("").Valid() {
		t.Error("unknown kinds are valid")
	}
}
