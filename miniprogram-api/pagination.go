package mpapi

import (
	"strconv"

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

// pageOf reads cursor and limit (default 20, at most 100).
func pageOf(c echo.Context) (domain.Page, error) {
	p := domain.Page{Cursor: c.QueryParam("cursor")}
	if len(p.Cursor) > 200 {
		return p, domain.Invalid(domain.FieldError{Field: "cursor", Code: "max", Message: "is too long"})
	}
	if s := c.QueryParam("limit"); s != "" {
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
