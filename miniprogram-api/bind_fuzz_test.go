package mpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

// fuzzRequest covers the shapes the binder walks: strings, pointers, ints,
// int64s, floats, slices, nested structs, maps and times.
type fuzzRequest struct {
	Name  string            `json:"name" validate:"max=50"`
	Note  *string           `json:"note"`
	Sort  int               `json:"sort"`
	Big   int64             `json:"big" validate:"gte=0"`
	Limit *int              `json:"limit"`
	Lat   *float64          `json:"lat" validate:"omitempty,gte=-90,lte=90"`
	Tags  []string          `json:"tags" validate:"max=10"`
	Specs map[string]string `json:"specs"`
	Items []struct {
		ID  int64 `json:"id"`
		Qty int   `json:"qty" validate:"gte=0,lte=999"`
	} `json:"items" validate:"max=5,dive"`
	At time.Time `json:"at"`
}

// The binder never panics, and whatever it accepts is text PostgreSQL can
// store, ints that fit an int column and times within the years allowed.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"a"}`, `{"name":"\u0000"}`, "{\"name\":\"\xff\xfe\"}", `{"sort":2147483648}`, `{"sort":-2147483649}`,
		`{"big":9223372036854775808}`, `{"lat":1e309}`, `{"tags":["a\u0000"]}`, `{"specs":{"\u0000":"x"}}`,
		`{"items":[{"id":1,"qty":1.5}]}`, `{"at":"0000-01-01T00:00:00Z"}`, `{"at":"2024-01-01T00:00:00Z"}`,
		`{"unknown":1}`, `null`, `[]`, `{"name":`, `{"note":"\ud800"}`, `{"limit":null}`,
		strings.Repeat(`{"a":`, 100), `{"name":"😀\u202e"}`,
	} {
		f.Add([]byte(s))
	}
	api := New(Deps{})
	e := echo.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		c := e.NewContext(r, httptest.NewRecorder())
		var dst fuzzRequest
		err := api.bindJSON(c, &dst)
		if err != nil {
			if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid {
				t.Fatalf("bind %q: %v is not a KindInvalid domain error", body, err)
			}
			return
		}
		texts := append([]string{dst.Name}, dst.Tags...)
		if dst.Note != nil {
			texts = append(texts, *dst.Note)
		}
		for k, v := range dst.Specs {
			texts = append(texts, k, v)
		}
		for _, s := range texts {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("bind %q accepted text %q", body, s)
			}
		}
		ints := []int{dst.Sort}
		if dst.Limit != nil {
			ints = append(ints, *dst.Limit)
		}
		for _, it := range dst.Items {
			ints = append(ints, it.Qty)
		}
		for _, n := range ints {
			if n < domain.MinInt32 || n > domain.MaxInt32 {
				t.Fatalf("bind %q accepted %d", body, n)
			}
		}
		if !dst.At.IsZero() && !domain.InRangeYear(dst.At) {
			t.Fatalf("bind %q accepted %v", body, dst.At)
		}
	})
}

// The page reader never panics; what it accepts is a bounded limit and a
// cursor that is short, valid text.
func FuzzParsePage(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"12", "20"}, {"\x00", "1"}, {"\xff\xfe", "100"}, {"1", "101"},
		{"-1", "0"}, {strings.Repeat("9", 300), "9223372036854775808"}, {"abc", "1.5"}, {"😀", " 5"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cursor, limit string) {
		p, err := parsePage(cursor, limit)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid {
				t.Fatalf("parsePage(%q, %q): %v", cursor, limit, err)
			}
			return
		}
		if p.Limit < 1 || p.Limit > domain.MaxPageLimit || len(p.Cursor) > 200 || !domain.ValidText(p.Cursor) {
			t.Fatalf("parsePage(%q, %q) accepted %+v", cursor, limit, p)
		}
	})
}

// The date reader never panics; what it accepts lies within the years
// allowed.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"", "2024-01-31", "0000-01-01", "9999-12-31", "1999-12-31", "2100-12-31", "2101-01-01",
		"2024-02-30", "2024-1-1", "\x00", "\xff", "2024-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2024-01-01T00:00:00+14:00",
		"2100-12-31T23:59:59-12:00", "+2024-01-01"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, rfc bool) {
		layout := time.DateOnly
		if rfc {
			layout = time.RFC3339
		}
		d, bad := parseDate("from", s, layout)
		if bad != nil {
			if bad.Field != "from" || bad.Code == "" {
				t.Fatalf("parseDate(%q): %+v", s, bad)
			}
			return
		}
		if s == "" {
			if !d.IsZero() {
				t.Fatalf("parseDate(\"\") = %v", d)
			}
			return
		}
		if !domain.InRangeYear(d) {
			t.Fatalf("parseDate(%q, %s) accepted %v", s, layout, d)
		}
	})
}
