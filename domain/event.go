package domain

import (
	"context"
	"fmt"
)

// Handlers is how areas compose: an ordered list of named handlers of one
// kind of event E, each run inside the transaction T in which the event
// happens. T is the program's transaction (storage.Tx): a domain package
// declares the events of its area (order.Lifecycle) without knowing it, and
// the program subscribes each area's handler, which takes its own stores
// from T. A handler that returns an error refuses the change: the caller
// rolls the whole transaction back with that error.
//
// Handlers are subscribed while the program is wired, before it serves;
// Run may then be called from any number of goroutines.
type Handlers[T, E any] struct {
	hs []namedHandler[T, E]
}

type namedHandler[T, E any] struct {
	name string
	fn   func(ctx context.Context, tx T, e E) error
}

// On subscribes fn under name (used in the error when fn refuses).
func (h *Handlers[T, E]) On(name string, fn func(ctx context.Context, tx T, e E) error) {
	h.hs = append(h.hs, namedHandler[T, E]{name: name, fn: fn})
}

// Len is how many handlers are subscribed.
func (h *Handlers[T, E]) Len() int { return len(h.hs) }

// Run runs the handlers in the order they were subscribed and stops at the
// first that refuses, returning its error wrapped with its name (errors.Is
// and errors.As still see the handler's own error).
func (h *Handlers[T, E]) Run(ctx context.Context, tx T, e E) error {
	if h == nil {
		return nil
	}
	for _, x := range h.hs {
		if err := x.fn(ctx, tx, e); err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
	}
	return nil
}
