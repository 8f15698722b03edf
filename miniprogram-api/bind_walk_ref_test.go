package mpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

// walkInputReference is the binder's walk as it was before inputWalker (it
// built every field's JSON path as it went): the tests compare the two.

func walkInputReference(v reflect.Value, path string, text, bounds *[]domain.FieldError) {
	name := path
	if name == "" {
		name = "(body)"
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkInputReference(v.Elem(), path, text, bounds)
		}
	case reflect.String:
		if !domain.ValidText(v.String()) {
			*text = append(*text, domain.FieldError{Field: name})
		}
	case reflect.Int:
		if n := v.Int(); n < domain.MinInt32 || n > domain.MaxInt32 {
			*bounds = append(*bounds, domain.FieldError{Field: name, Code: "out_of_range",
				Message: fmt.Sprintf("must be from %d to %d", domain.MinInt32, domain.MaxInt32)})
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw bytes (json.RawMessage): not text
		}
		for i := 0; i < v.Len(); i++ {
			walkInputReference(v.Index(i), fmt.Sprintf("%s[%d]", path, i), text, bounds)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			at := path + "." + k
			if !domain.ValidText(k) {
				at = path // never echo a bad key back
				*text = append(*text, domain.FieldError{Field: name})
			}
			walkInputReference(iter.Value(), at, text, bounds)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if t := v.Interface().(time.Time); !t.IsZero() && !domain.InRangeYear(t) {
				*bounds = append(*bounds, domain.FieldError{Field: name, Code: "out_of_range",
					Message: fmt.Sprintf("must be a time from %d to %d", domain.MinYear, domain.MaxYear)})
			}
			return
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			jn := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
			if jn == "-" {
				continue
			}
			if jn == "" {
				jn = f.Name
			}
			at := jn
			if path != "" {
				at = path + "." + jn
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				at = path
			}
			walkInputReference(v.Field(i), at, text, bounds)
		}
	}
}

// walkRequest has every shape the walker names: top-level and nested
// fields, an untagged embedded struct, a tagged one, slices of structs,
// maps with plain and named keys, a skipped field, pointers and times.
type walkRequest struct {
	walkEmbedded
	Tagged   walkEmbedded         `json:"tagged"`
	Name     string               `json:"name,omitempty"`
	Skip     string               `json:"-"`
	NoTag    string               // no tag: the Go name is the JSON name
	Events   []trackEventDTO      `json:"events"`
	Specs    map[string]string    `json:"specs"`
	Named    map[walkKey]int      `json:"named"`
	Deep     map[string][]walkSub `json:"deep"`
	Ptr      *walkSub             `json:"ptr"`
	Matrix   [][]string           `json:"matrix"`
	At       time.Time            `json:"at"`
	Anything any                  `json:"anything"`
}

type walkEmbedded struct {
	Inner string `json:"inner"`
	N     int    `json:"n"`
}

type walkSub struct {
	S  string    `json:"s"`
	N  int       `json:"n"`
	At time.Time `json:"at"`
}

type walkKey string

// The walker finds exactly what the path-building walk found, with the
// same field names in the same order, for valid and invalid values in
// every position (a fuzz target: go test -fuzz FuzzInputWalker).
func FuzzInputWalker(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"inner":"\u0000","n":2147483648}`, `{"tagged":{"inner":"\u0000"}}`, `{"name":"\u0000","NoTag":"\u0000"}`,
		`{"events":[{"id":"a"},{"id":"\u0000","scene":-2147483649,"at":"0001-01-01T00:00:01Z"},{"group_info":{"iv":"\u0000"}}]}`,
		`{"specs":{"\u0000":"\u0000","ok":"\u0000"}}`, `{"named":{"\u0000":3000000000,"k":1}}`,
		`{"deep":{"k":[{"s":"\u0000"},{"n":9999999999}],"\u0000":[{"s":"\u0000"}]}}`, `{"ptr":{"s":"\u0000","at":"3000-01-01T00:00:00Z"}}`,
		`{"matrix":[["a","\u0000"],["\u0000"]]}`, `{"at":"1900-01-01T00:00:00Z"}`, `{"anything":{"x":["\u0000",{"y":"\u0000"}]}}`,
		`{"anything":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req walkRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		for _, v := range []any{&req, req.Events, req.Anything, &req.Deep} {
			var want, wantBounds []domain.FieldError
			walkInputReference(reflect.ValueOf(v), "", &want, &wantBounds)
			var w inputWalker
			w.walk(reflect.ValueOf(v))
			// Map order is random: compare as sets of names.
			if fmt.Sprint(sortedErrs(w.text)) != fmt.Sprint(sortedErrs(want)) ||
				fmt.Sprint(sortedErrs(w.bounds)) != fmt.Sprint(sortedErrs(wantBounds)) {
				t.Fatalf("%s:\ntext   %v\nwant   %v\nbounds %v\nwant   %v", body, w.text, want, w.bounds, wantBounds)
			}
		}
	})
}

func sortedErrs(fs []domain.FieldError) []domain.FieldError {
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b domain.FieldError) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// A walk over a batch of 100 valid touches allocates nothing once the
// types are cached (the old walk built ~600 path strings).
func TestInputWalkerValidBatchAllocatesNothing(t *testing.T) {
	req := trackBody(100)
	w := inputWalker{segs: make([]pathSeg, 0, 8)}
	w.walk(reflect.ValueOf(&req))
	if n := testing.AllocsPerRun(20, func() {
		w.segs, w.text, w.bounds = w.segs[:0], nil, nil
		w.walk(reflect.ValueOf(&req))
	}); n != 0 || len(w.text)+len(w.bounds) != 0 {
		t.Fatalf("%v allocations, errors %v %v", n, w.text, w.bounds)
	}
}

func trackBody(n int) trackRequest {
	var req trackRequest
	at := time.Now()
	for i := range n {
		req.Events = append(req.Events, trackEventDTO{ID: fmt.Sprint("lt-run-", i), Code: "AbCdEfGh12", Scene: 1007,
			Path: "/pages/product/index?id=12&share=AbCdEfGh12", At: at})
	}
	return req
}

// BenchmarkBindTrackBody: the binder on a track call's body of 100 events
// (decode, checkInput, validation), as the handler runs it.
func BenchmarkBindTrackBody(b *testing.B) {
	body, err := json.Marshal(trackBody(100))
	if err != nil {
		b.Fatal(err)
	}
	api := New(Deps{})
	e := echo.New()
	b.ReportAllocs()
	for b.Loop() {
		c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), httptest.NewRecorder())
		var req trackRequest
		if err := api.bindJSON(c, &req); err != nil {
			b.Fatal(err)
		}
	}
}
