package domain

import "time"

// Actor is who made a change: a staff member, a shopper or the system.
type Actor struct {
	Kind string // "staff", "shopper", "system"
	ID   int64
	Name string
}

// String is the actor as recorded in ledgers: "staff:3", "shopper:42", "system".
func (a Actor) String() string {
	if a.Kind == "" || a.Kind == "system" {
		return "system"
	}
	return a.Kind + ":" + itoa(a.ID)
}

// System is the actor of workers and automatic changes.
var System = Actor{Kind: "system", Name: "system"}

// AuditEntry is one audited admin write. Before and After are plain values
// (maps or structs) that the storage adapter records as JSON.
type AuditEntry struct {
	Actor     Actor
	Action    string // e.g. "product.update"
	Entity    string // e.g. "product"
	EntityID  string
	Before    any
	After     any
	RequestID string
	At        time.Time
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// AuditView is an audit record as read back; Before and After are JSON.
type AuditView struct {
	ID        int64
	At        time.Time
	Actor     string
	Action    string
	Entity    string
	EntityID  string
	Before    []byte
	After     []byte
	RequestID string
}
