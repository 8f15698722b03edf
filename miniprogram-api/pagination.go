package mpapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

// listResponse is the one shape of every list.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func newList[T any](items []T, next string) listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return listResponse[T]{Items: items, NextCursor: next}
}

// convertAll converts every element of xs with f, in order; the result is
// never nil, so that an empty list is sent as [].
func convertAll[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// pageOf reads cursor and limit (default 20, at most 100).
func pageOf(c echo.Context) (domain.Page, error) {
	return parsePage(c.QueryParam("cursor"), c.QueryParam("limit"))
}

// parsePage is pageOf on the raw query values.
func parsePage(cursor, limit string) (domain.Page, error) {
	p := domain.Page{Cursor: cursor}
	if len(p.Cursor) > 200 {
		return p, domain.Invalid(domain.FieldError{Field: "cursor", Code: "max", Message: "is too long"})
	}
	if !domain.ValidText(p.Cursor) {
		return p, domain.InvalidText("cursor")
	}
	if s := limit; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > domain.MaxPageLimit {
			return p, domain.Invalid(domain.FieldError{Field: "limit", Code: "range", Message: "must be an integer from 1 to 100"})
		}
		p.Limit = n
	}
	p.Limit = domain.BoundLimit(p.Limit)
	return p, nil
}

// pathID parses a positive integer path parameter.
func pathID(c echo.Context, name string) (int64, error) {
	n, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, domain.Invalid(domain.FieldError{Field: name, Code: "format", Message: "must be a positive integer"})
	}
	return n, nil
}

// dateParam reads an optional query parameter holding a date (YYYY-MM-DD,
// Asia/Shanghai) or, with layout time.RFC3339, a time. A value outside
// domain.MinYear…MaxYear is out_of_range; "" is the zero time.
func dateParam(c echo.Context, name, layout string) (time.Time, *domain.FieldError) {
	return parseDate(name, c.QueryParam(name), layout)
}

// parseDate is dateParam on the raw value.
func parseDate(name, s, layout string) (time.Time, *domain.FieldError) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(layout, s, domain.Shanghai)
	if err != nil {
		msg := "must be a date, YYYY-MM-DD"
		if layout != time.DateOnly {
			msg = "must be an RFC 3339 time"
		}
		return time.Time{}, &domain.FieldError{Field: name, Code: "format", Message: msg}
	}
	if !domain.InRangeYear(t) {
		return time.Time{}, &domain.FieldError{Field: name, Code: "out_of_range",
			Message: fmt.Sprintf("must be within the years %d to %d", domain.MinYear, domain.MaxYear)}
	}
	return t, nil
}

// invalidFields reports field errors as one error: out_of_range when every
// field is beyond its bounds, else validation_failed.
func invalidFields(fe []domain.FieldError) error {
	for _, f := range fe {
		if f.Code != "out_of_range" {
			return domain.Invalid(fe...)
		}
	}
	return domain.OutOfRange(fe...)
}
