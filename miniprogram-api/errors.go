package mpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
)

// errorBody is the one shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// fieldErrorDTO is one invalid field, named by its JSON name.
type fieldErrorDTO struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf is the one table from domain kinds to HTTP statuses.
var statusOf = map[domain.Kind]int{
	domain.KindInternal:      http.StatusInternalServerError,
	domain.KindInvalid:       http.StatusBadRequest,
	domain.KindUnauthorized:  http.StatusUnauthorized,
	domain.KindForbidden:     http.StatusForbidden,
	domain.KindNotFound:      http.StatusNotFound,
	domain.KindConflict:      http.StatusConflict,
	domain.KindUnprocessable: http.StatusUnprocessableEntity,
	domain.KindTooMany:       http.StatusTooManyRequests,
	domain.KindUnavailable:   http.StatusServiceUnavailable,
}

// echo's own errors (routing, body limit) mapped to stable codes.
var echoCodes = map[int]string{
	http.StatusNotFound:              "route_not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "body_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusTooManyRequests:       "too_many_requests",
	http.StatusServiceUnavailable:    "unavailable",
}

// handleError writes every error: a *domain.Error by its kind, an
// *echo.HTTPError by its status, anything else as a 500 whose text never
// reaches the client. 5xx are logged once, here, with the request id.
func (a *API) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := a.errorResponse(err)
	if status == http.StatusInternalServerError && a.databaseDown(c) {
		// Whatever failed, it failed while the database is unreachable:
		// say so, so clients back off and retry instead of reporting a bug.
		status, body = http.StatusServiceUnavailable, errorBody{errorDetail{
			Code: domain.ErrDatabaseUnavailable.Code, Message: domain.ErrDatabaseUnavailable.Message}}
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	if status >= 500 {
		a.log.ErrorContext(c.Request().Context(), "request failed",
			"request_id", requestID(c), "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", status, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// retryAfterSeconds is the Retry-After of every 503.
const retryAfterSeconds = "5"

// databaseDown asks the database whether it answers (with a short timeout),
// so that a 500 raised while it is unreachable becomes a 503.
func (a *API) databaseDown(c echo.Context) bool {
	if a.deps.Ready == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), time.Second)
	defer cancel()
	return a.deps.Ready(ctx) != nil
}

func (a *API) errorResponse(err error) (int, errorBody) {
	if de, ok := domain.AsError(err); ok {
		status := statusOf[de.Kind]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if status >= 500 && de.Kind == domain.KindInternal {
			return status, internalBody()
		}
		return status, errorBody{errorDetail{Code: de.Code, Message: de.Message, Details: detailsDTO(de.Details)}}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := echoCodes[he.Code]
		if !ok {
			if he.Code >= 500 {
				return he.Code, internalBody()
			}
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			msg = m
		}
		return he.Code, errorBody{errorDetail{Code: code, Message: msg}}
	}
	return http.StatusInternalServerError, internalBody()
}

func internalBody() errorBody {
	return errorBody{errorDetail{Code: "internal", Message: "Something went wrong on our side; please try again."}}
}

// detailsDTO converts domain details to wire shapes.
func detailsDTO(d any) any {
	switch v := d.(type) {
	case nil:
		return nil
	case []domain.FieldError:
		out := make([]fieldErrorDTO, len(v))
		for i, f := range v {
			out[i] = fieldErrorDTO{Field: f.Field, Code: f.Code, Message: f.Message}
		}
		return map[string]any{"fields": out}
	default:
		return v
	}
}

// bodyError turns a JSON decoding error into a 400 a person can act on.
func bodyError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return domain.E(domain.KindInvalid, "body_too_large", "The request body is too large.")
	case errors.As(err, &syn), errors.Is(err, errUnexpectedEOF):
		return domain.E(domain.KindInvalid, "malformed_json", "The request body is not valid JSON.")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return domain.Invalid(domain.FieldError{Field: field, Code: "wrong_type",
			Message: "must be " + jsonTypeName(typ.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return domain.Invalid(domain.FieldError{Field: name, Code: "unknown_field", Message: "is not a known field"})
	default:
		return domain.E(domain.KindInvalid, "malformed_json", "The request body is not valid JSON.")
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}
