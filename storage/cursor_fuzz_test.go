package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
)

// The id-cursor readers never panic; a cursor is either refused with
// ErrBadCursor or a positive id ("" is the first page).
func FuzzIDCursor(f *testing.F) {
	for _, s := range []string{"", "1", "42", "0", "-1", "9223372036854775807", "9223372036854775808", "1.5", "1e3",
		"\x00", "\xff\xfe", " 1", "+1", "0x10", strings.Repeat("9", 300), "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		for name, read := range map[string]func(string) (int64, error){"idAfter": idAfter, "idBefore": idBefore} {
			n, err := read(cursor)
			if err != nil {
				if !errors.Is(err, domain.ErrBadCursor) {
					t.Fatalf("%s(%q): %v", name, cursor, err)
				}
				continue
			}
			if cursor == "" {
				continue
			}
			if n <= 0 {
				t.Fatalf("%s(%q) = %d", name, cursor, n)
			}
		}
	})
}

// The keyset cursor reader (the catalog's sorts, the order search by time
// placed) never panics: a cursor is refused with ErrBadCursor or read as a
// position, and what encodeKeyCursor writes reads back as it was.
func FuzzKeyCursor(f *testing.F) {
	for _, s := range []string{"", "1", "42", encodeKeyCursor(keyCursor{Key: time.Date(2026, 10, 31, 21, 28, 21, 325777000, time.UTC).UnixMicro(), ID: 7}),
		encodeKeyCursor(keyCursor{Key: -5, ID: 1}), "MTc5MzQ4MjEw", "LjE", "MS4w", "\x00", "😀", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		c, err := decodeKeyCursor(cursor)
		if err != nil {
			if !errors.Is(err, domain.ErrBadCursor) {
				t.Fatalf("decodeKeyCursor(%q): %v", cursor, err)
			}
			return
		}
		if cursor == "" {
			return
		}
		if c.ID <= 0 {
			t.Fatalf("decodeKeyCursor(%q) = %+v", cursor, c)
		}
		if back, err := decodeKeyCursor(encodeKeyCursor(c)); err != nil || back != c {
			t.Fatalf("%+v encoded and read back: %+v, %v", c, back, err)
		}
	})
}
