package mpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

var errUnexpectedEOF = io.ErrUnexpectedEOF

// bindWithID reads the path parameter name as an id, then binds the body
// into dst as bindJSON does: the path is checked first.
func (a *API) bindWithID(c echo.Context, name string, dst any) (int64, error) {
	id, err := pathID(c, name)
	if err != nil {
		return 0, err
	}
	return id, a.bindJSON(c, dst)
}

// bindJSON decodes the request body strictly (unknown fields and trailing
// data are errors; query and path never overwrite body fields) and validates
// it with the one process-wide validator.
func (a *API) bindJSON(c echo.Context, dst any) error {
	body := c.Request().Body
	if body == nil {
		return domain.E(domain.KindInvalid, "empty_body", "The request body is empty; send a JSON object.")
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return domain.E(domain.KindInvalid, "empty_body", "The request body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return domain.E(domain.KindInvalid, "malformed_json", "The request body has data after the JSON value.")
	}
	if err := checkInput(dst); err != nil {
		return err
	}
	return a.check(dst)
}

// checkInput walks a decoded request and refuses what PostgreSQL cannot
// store, naming each field by its JSON path: text that is not valid UTF-8 or
// holds NUL (invalid_text), an int field beyond the int column it goes to,
// and a time outside domain.MinYear…MaxYear (out_of_range). DTO fields typed
// int go to int columns (int64 to bigint), so int fields are bounded to 32
// bits here, once, for every request.
func checkInput(v any) error {
	var w inputWalker
	w.walk(reflect.ValueOf(v))
	text, bounds := w.text, w.bounds
	if len(text) > 0 {
		names := make([]string, len(text))
		for i, f := range text {
			names[i] = f.Field
		}
		return domain.InvalidText(names...)
	}
	if len(bounds) > 0 {
		return domain.OutOfRange(bounds...)
	}
	return nil
}

// check validates a DTO and reports every invalid field by its JSON name.
func (a *API) check(v any) error {
	err := a.validate.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return domain.ErrInvalid
	}
	fields := make([]domain.FieldError, 0, len(ves))
	for _, fe := range ves {
		fields = append(fields, domain.FieldError{Field: fieldPath(fe), Code: fe.Tag(), Message: fieldMessage(fe)})
	}
	return domain.Invalid(fields...)
}

// fieldPath is the JSON path of a field ("items[0].quantity"), without the
// top-level struct name.
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return fe.Field()
}

func fieldMessage(fe validator.FieldError) string {
	p := fe.Param()
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			return "must have at least " + p + " items/characters"
		}
		return "must be at least " + p
	case "max":
		if fe.Kind() == reflect.String || fe.Kind() == reflect.Slice {
			return "must have at most " + p + " items/characters"
		}
		return "must be at most " + p
	case "gt":
		return "must be greater than " + p
	case "gte":
		return "must be at least " + p
	case "lte":
		return "must be at most " + p
	case "oneof":
		return "must be one of: " + p
	case "url", "http_url":
		return "must be a URL"
	case "len":
		return "must have length " + p
	case "e164", "mobile":
		return "must be a phone number"
	default:
		return "is not valid (" + fe.Tag() + ")"
	}
}

// newValidator builds the validator, once per API (so once per process): it
// names fields by their json tag and caches struct metadata across requests.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	return v
}

type echoValidator struct{ v *validator.Validate }

func (ev *echoValidator) Validate(i any) error { return ev.v.Struct(i) }

// checkText is the query and path half of checkInput, for every route: a
// query parameter (name or value), a path parameter or an Idempotency-Key
// that is not valid UTF-8 or holds NUL is a 400 naming it, before any handler
// reads it.
func checkText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var bad []string
		for k, vs := range c.QueryParams() {
			if !domain.ValidText(k) {
				bad = append(bad, "(query)")
				continue
			}
			for _, v := range vs {
				if !domain.ValidText(v) {
					bad = append(bad, k)
					break
				}
			}
		}
		names, values := c.ParamNames(), c.ParamValues()
		for i, n := range names {
			if i < len(values) && !validPathText(values[i]) {
				bad = append(bad, n)
			}
		}
		if !domain.ValidText(c.Request().Header.Get("Idempotency-Key")) {
			bad = append(bad, "Idempotency-Key")
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return domain.InvalidText(bad...)
		}
		return next(c)
	}
}

// validPathText checks a path parameter as echo hands it over and, when it
// still holds escapes, as it reads unescaped.
func validPathText(v string) bool {
	if !domain.ValidText(v) {
		return false
	}
	if strings.IndexByte(v, '%') >= 0 {
		if u, err := url.PathUnescape(v); err == nil && !domain.ValidText(u) {
			return false
		}
	}
	return true
}
