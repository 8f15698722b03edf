// Package readcache keeps shopper-facing reads (the catalog's list and
// detail pages) in memory while the data under them is unchanged, so the
// hottest reads cost no database round trip.
//
// Correctness with several servers on one database rests on a version the
// database keeps: every write to the tables under a cache advances it (a
// sequence bumped by statement triggers, migration 00023), and a Version
// re-reads it at most every Fresh. An entry is served only while the version
// it was filled under is still current, so a change made through any
// instance is visible on every instance within Fresh (plus Grace, below).
//
// The version advances when the writing statement runs, which is a little
// before its transaction commits; a read in that gap can fill an entry from
// the old rows under the new version. Entries filled within Grace of a
// version change are therefore kept only until Grace has passed, then filled
// again. A write through this instance calls Touch, so the next read here
// re-reads the version: a merchandiser sees their own change at once.
//
// Entries may also carry their own expiry (a flash sale starting or ending
// changes a page without any write).
//
// Recent is the other kind of entry: a value kept for at most Fresh after it
// was read, whatever the version does, and dropped by a write through this
// instance. It is for answers under a version that moves with every order
// (stock), which a Cache would refill on nearly every read while orders flow.
package readcache

import (
	"context"
	"sync"
	"time"
)

// Version tracks the database's version of a set of tables.
type Version struct {
	// Read answers the current version (one cheap query).
	Read func(ctx context.Context) (int64, error)
	// Fresh is how long a version read is trusted; Grace how long after a
	// change entries stay tentative (see the package comment).
	Fresh, Grace time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	readMu  sync.Mutex // one read at a time
	mu      sync.Mutex
	known   bool
	v       int64
	changed time.Time // when v was first seen
	checked time.Time // when v was last read
	dirty   bool      // a write here asked for a re-read
	touched time.Time // the last Touch
}

func (v *Version) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Touch makes the next Current read the database's version (call it after a
// write through this instance).
func (v *Version) Touch() {
	now := v.now()
	v.mu.Lock()
	v.dirty = true
	v.touched = now
	v.mu.Unlock()
}

// stamp is a version as a cache sees it: the number, and from when entries
// filled under it are settled.
type stamp struct {
	v       int64
	settled time.Time
}

func (v *Version) cached(now time.Time) (stamp, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.known || v.dirty || now.Sub(v.checked) >= v.Fresh {
		return stamp{}, false
	}
	return stamp{v.v, v.changed.Add(v.Grace)}, true
}

// Current answers the version, reading it when the last read is older than
// Fresh or a write here touched it. A failed read is returned (the database
// is down: the caller answers as it would without a cache).
func (v *Version) Current(ctx context.Context) (stamp, error) {
	if s, ok := v.cached(v.now()); ok {
		return s, nil
	}
	v.readMu.Lock()
	defer v.readMu.Unlock()
	// Another reader may have read it while this one waited; a touch made
	// after that read began still forces a read of our own.
	if s, ok := v.cached(v.now()); ok {
		return s, nil
	}
	v.mu.Lock()
	v.dirty = false
	v.mu.Unlock()
	n, err := v.Read(ctx)
	if err != nil {
		v.Touch()
		return stamp{}, err
	}
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.known || n != v.v {
		v.known, v.v, v.changed = true, n, now
	}
	v.checked = now
	return stamp{v.v, v.changed.Add(v.Grace)}, nil
}

// Cache holds values by key under a Version. It is bounded: when full it is
// emptied (the keys are page queries; a hot set refills in one round).
type Cache[V any] struct {
	ver *Version
	max int

	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	val     V
	v       int64
	filled  time.Time
	expires time.Time // zero: no expiry of its own
}

// New makes a cache of at most max entries under ver.
func New[V any](ver *Version, max int) *Cache[V] {
	return &Cache[V]{ver: ver, max: max, entries: map[string]entry[V]{}}
}

// Get answers the value for key, calling fill when there is no usable entry.
// fill answers the value and when it stops being true on its own (zero:
// only a write changes it). Errors from fill are not cached.
func (c *Cache[V]) Get(ctx context.Context, key string, fill func(ctx context.Context) (V, time.Time, error)) (V, error) {
	st, err := c.ver.Current(ctx)
	if err != nil {
		var zero V
		return zero, err
	}
	now := c.ver.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.v == st.v && (e.expires.IsZero() || now.Before(e.expires)) &&
		(!e.filled.Before(st.settled) || now.Before(st.settled)) {
		return e.val, nil
	}
	val, expires, err := fill(ctx)
	if err != nil {
		return val, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
	c.entries[key] = entry[V]{val: val, v: st.v, filled: now, expires: expires}
	c.mu.Unlock()
	return val, nil
}

// Recent keeps values for at most the version's Fresh after they were read,
// and none read before the last Touch: a write through this instance is seen
// here at once, one through another instance within Fresh, like a Cache's.
// One read per key at a time: a crowd asking for an expired key waits for
// one read instead of making fifty.
type Recent[V any] struct {
	ver *Version
	max int

	mu       sync.Mutex
	entries  map[string]recent[V]
	inflight map[string]chan struct{}
}

type recent[V any] struct {
	val  V
	read time.Time // when the read began
}

// NewRecent makes a Recent of at most max entries, kept as long as ver
// trusts a version read (its Fresh) and dropped by ver.Touch.
func NewRecent[V any](ver *Version, max int) *Recent[V] {
	return &Recent[V]{ver: ver, max: max, entries: map[string]recent[V]{}, inflight: map[string]chan struct{}{}}
}

// Get answers the value kept for key while it is recent, else fill's (not
// kept when it fails).
func (r *Recent[V]) Get(ctx context.Context, key string, fill func(ctx context.Context) (V, error)) (V, error) {
	for {
		now := r.ver.now()
		r.ver.mu.Lock()
		touched := r.ver.touched
		r.ver.mu.Unlock()
		r.mu.Lock()
		e, ok := r.entries[key]
		if ok && now.Sub(e.read) < r.ver.Fresh && e.read.After(touched) {
			r.mu.Unlock()
			return e.val, nil
		}
		if wait, busy := r.inflight[key]; busy {
			r.mu.Unlock()
			select {
			case <-wait:
				continue // look again: what it read may already be outdated
			case <-ctx.Done():
				var zero V
				return zero, ctx.Err()
			}
		}
		done := make(chan struct{})
		r.inflight[key] = done
		r.mu.Unlock()

		val, err := fill(ctx)
		r.mu.Lock()
		delete(r.inflight, key)
		if err == nil {
			r.put(key, recent[V]{val: val, read: now})
		}
		r.mu.Unlock()
		close(done)
		return val, err
	}
}

// put keeps e for key; r.mu is held.
func (r *Recent[V]) put(key string, e recent[V]) {
	if len(r.entries) >= r.max {
		now := r.ver.now()
		for k, old := range r.entries { // drop the stale first; all if none is
			if now.Sub(old.read) >= r.ver.Fresh {
				delete(r.entries, k)
			}
		}
		if len(r.entries) >= r.max {
			clear(r.entries)
		}
	}
	r.entries[key] = e
}
