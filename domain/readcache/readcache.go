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
// One fill per key at a time: a crowd asking for a key that needs filling
// (a page after a change, a sold-out SKU after the version moved) waits for
// one read instead of making one each.
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
	v.mu.Lock()
	v.dirty = true
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
	filling map[string]chan struct{} // closed when the key's fill ends
}

type entry[V any] struct {
	val     V
	v       int64
	filled  time.Time
	expires time.Time // zero: no expiry of its own
}

// New makes a cache of at most max entries under ver.
func New[V any](ver *Version, max int) *Cache[V] {
	return &Cache[V]{ver: ver, max: max, entries: map[string]entry[V]{}, filling: map[string]chan struct{}{}}
}

// Get answers the value for key, calling fill when there is no usable entry.
// fill answers the value and when it stops being true on its own (zero:
// only a write changes it). Errors from fill are not cached. One fill per
// key at a time: a crowd asking for a key that needs one waits for it.
func (c *Cache[V]) Get(ctx context.Context, key string, fill func(ctx context.Context) (V, time.Time, error)) (V, error) {
	for {
		st, err := c.ver.Current(ctx)
		if err != nil {
			var zero V
			return zero, err
		}
		now := c.ver.now()
		c.mu.Lock()
		e, ok := c.entries[key]
		if ok && e.v == st.v && (e.expires.IsZero() || now.Before(e.expires)) &&
			(!e.filled.Before(st.settled) || now.Before(st.settled)) {
			c.mu.Unlock()
			return e.val, nil
		}
		if wait, busy := c.filling[key]; busy {
			c.mu.Unlock()
			select {
			case <-wait:
				continue // look again: the fill may already be outdated for us
			case <-ctx.Done():
				var zero V
				return zero, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.filling[key] = done
		c.mu.Unlock()
		return c.fill(ctx, key, st, now, done, fill)
	}
}

// fill runs fill for key and keeps what it answers, as filled at now (when
// it began); it always releases the crowd waiting on done.
func (c *Cache[V]) fill(ctx context.Context, key string, st stamp, now time.Time, done chan struct{},
	fill func(ctx context.Context) (V, time.Time, error)) (val V, err error) {
	var expires time.Time
	defer func() {
		c.mu.Lock()
		delete(c.filling, key)
		if err == nil {
			if len(c.entries) >= c.max {
				clear(c.entries)
			}
			c.entries[key] = entry[V]{val: val, v: st.v, filled: now, expires: expires}
		}
		c.mu.Unlock()
		close(done)
	}()
	val, expires, err = fill(ctx)
	return val, err
}
