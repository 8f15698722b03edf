// Package domain holds yutang's shared business types: money in fen, the one
// error type with its kinds and stable codes, and small value types. It imports
// nothing but the standard library; every area lives in a subpackage.
package domain

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that an adapter (HTTP, CLI) can map it to its
// own vocabulary in one table. Kinds are few and stable; codes are many.
type Kind int

const (
	KindInternal      Kind = iota // a bug or an unavailable dependency; never shown in detail
	KindInvalid                   // the request is malformed or breaks a rule of its shape
	KindUnauthorized              // no or bad credentials
	KindForbidden                 // authenticated but not allowed
	KindNotFound                  // the thing does not exist (or is not visible to the caller)
	KindConflict                  // the state of the world forbids it now (stock, status, duplicates)
	KindUnprocessable             // well-formed but semantically refused (idempotency key reuse …)
	KindTooMany                   // throttled
	KindUnavailable               // a dependency is down; retry later
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindUnprocessable:
		return "unprocessable"
	case KindTooMany:
		return "too_many"
	case KindUnavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is the one error type that crosses layers. Code is a stable snake_case
// machine code; Message is safe to show to a person; Details carries
// structured data for the client (field errors, a new price breakdown). Err,
// when set, is the cause and is never shown to a client.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sentinel) match on Code, so a sentinel may be
// returned as is or re-made with details (WithDetails) and still match.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code == e.Code && t.Kind == e.Kind
}

// WithDetails returns a copy of e carrying details.
func (e *Error) WithDetails(d any) *Error {
	c := *e
	c.Details = d
	return &c
}

// WithMessage returns a copy of e with another human message (same code).
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// E builds an Error.
func E(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Errorf builds an Error with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the first *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var de *Error
	if errors.As(err, &de) {
		return de, true
	}
	return nil, false
}

// KindOf returns the Kind of err, KindInternal when it carries none.
func KindOf(err error) Kind {
	if de, ok := AsError(err); ok {
		return de.Kind
	}
	return KindInternal
}

// FieldError names one invalid field of a request by its wire name.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Common errors shared by every area.
var (
	ErrInvalid              = E(KindInvalid, "invalid_request", "The request is not valid.")
	ErrUnauthorized         = E(KindUnauthorized, "unauthorized", "Sign in first.")
	ErrForbidden            = E(KindForbidden, "forbidden", "You are not allowed to do this.")
	ErrNotFound             = E(KindNotFound, "not_found", "Not found.")
	ErrIdempotencyKeyReused = E(KindUnprocessable, "idempotency_key_reused",
		"This Idempotency-Key was already used with a different request; use a new key.")
	ErrUnavailable = E(KindUnavailable, "unavailable", "The service is briefly unavailable; try again.")
	ErrBadCursor   = E(KindInvalid, "bad_cursor", "The cursor is not valid; start from the first page.")
)

// Invalid reports field errors as one KindInvalid error.
func Invalid(fields ...FieldError) *Error {
	msg := "The request is not valid."
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	} else if len(fields) > 1 {
		msg = fmt.Sprintf("%d fields are not valid; see details.", len(fields))
	}
	return &Error{Kind: KindInvalid, Code: "validation_failed", Message: msg, Details: fields}
}
