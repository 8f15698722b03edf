package mpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

var errUnexpectedEOF = io.ErrUnexpectedEOF

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
	return a.check(dst)
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
