package storage

import (
	"errors"
	"strings"
	"testing"

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
