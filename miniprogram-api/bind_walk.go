package mpapi

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yutang/yutang/domain"
)

var timeType = reflect.TypeOf(time.Time{})
var stringType = reflect.TypeOf("")

// inputWalker is checkInput's walk over a decoded request. It keeps the
// path to the value it is at as a stack of segments and writes a field's
// JSON path ("events[3].id", "(body)" for the request itself) only when
// that field is refused: a valid request (nearly all of them) costs no
// string building, where building every path as it went cost a batch of
// 100 touches some 600 allocations (issue 18). Struct fields come from a
// per-type cache rather than from reflect and the json tag at each value.
type inputWalker struct {
	segs         []pathSeg
	text, bounds []domain.FieldError
}

// pathSeg is one step of a path: a field or map key (name) or a slice
// index (name empty).
type pathSeg struct {
	name  string
	index int
	key   bool // a map key: always ".key", even at the top
}

// walkField is a struct field the walk enters, with its JSON name; inline:
// an untagged embedded struct, whose fields are the parent's.
type walkField struct {
	index  int
	name   string
	inline bool
}

var walkFields sync.Map // reflect.Type → []walkField

func fieldsOf(t reflect.Type) []walkField {
	if fs, ok := walkFields.Load(t); ok {
		return fs.([]walkField)
	}
	var fs []walkField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		jn, _, _ := strings.Cut(tag, ",")
		if jn == "-" {
			continue
		}
		if jn == "" {
			jn = f.Name
		}
		fs = append(fs, walkField{index: i, name: jn, inline: f.Anonymous && tag == ""})
	}
	walkFields.Store(t, fs)
	return fs
}

// name is the JSON path of the value the walk is at.
func (w *inputWalker) name() string {
	var b strings.Builder
	for _, s := range w.segs {
		switch {
		case s.key:
			b.WriteString(".")
			b.WriteString(s.name)
		case s.name == "":
			b.WriteString("[")
			b.WriteString(strconv.Itoa(s.index))
			b.WriteString("]")
		default:
			if b.Len() > 0 {
				b.WriteString(".")
			}
			b.WriteString(s.name)
		}
	}
	if b.Len() == 0 {
		return "(body)"
	}
	return b.String()
}

func (w *inputWalker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.String:
		if !domain.ValidText(v.String()) {
			w.text = append(w.text, domain.FieldError{Field: w.name()})
		}
	case reflect.Int:
		if n := v.Int(); n < domain.MinInt32 || n > domain.MaxInt32 {
			w.bounds = append(w.bounds, domain.FieldError{Field: w.name(), Code: "out_of_range",
				Message: fmt.Sprintf("must be from %d to %d", domain.MinInt32, domain.MaxInt32)})
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw bytes (json.RawMessage): not text
		}
		w.segs = append(w.segs, pathSeg{})
		top := len(w.segs) - 1
		for i := 0; i < v.Len(); i++ {
			w.segs[top] = pathSeg{index: i}
			w.walk(v.Index(i))
		}
		w.segs = w.segs[:top]
	case reflect.Map:
		plain := v.Type().Key() == stringType
		iter := v.MapRange()
		for iter.Next() {
			var k string
			if plain {
				k = iter.Key().String()
			} else {
				k = fmt.Sprint(iter.Key().Interface())
			}
			if !domain.ValidText(k) {
				// never echo a bad key back: its value is named by the map's path
				w.text = append(w.text, domain.FieldError{Field: w.name()})
				w.walk(iter.Value())
				continue
			}
			w.segs = append(w.segs, pathSeg{name: k, key: true})
			w.walk(iter.Value())
			w.segs = w.segs[:len(w.segs)-1]
		}
	case reflect.Struct:
		if v.Type() == timeType {
			var t time.Time
			if v.CanAddr() {
				t = *v.Addr().Interface().(*time.Time) // no copy boxed on the heap
			} else {
				t = v.Interface().(time.Time)
			}
			if !t.IsZero() && !domain.InRangeYear(t) {
				w.bounds = append(w.bounds, domain.FieldError{Field: w.name(), Code: "out_of_range",
					Message: fmt.Sprintf("must be a time from %d to %d", domain.MinYear, domain.MaxYear)})
			}
			return
		}
		for _, f := range fieldsOf(v.Type()) {
			if f.inline {
				w.walk(v.Field(f.index))
				continue
			}
			w.segs = append(w.segs, pathSeg{name: f.name})
			w.walk(v.Field(f.index))
			w.segs = w.segs[:len(w.segs)-1]
		}
	}
}
