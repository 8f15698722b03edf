package readcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// db is a fake version source with a clock the test moves.
type db struct {
	mu    sync.Mutex
	v     int64
	reads int
	fail  error
	now   time.Time
}

func (d *db) read(context.Context) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	return d.v, d.fail
}
func (d *db) clock() time.Time        { d.mu.Lock(); defer d.mu.Unlock(); return d.now }
func (d *db) advance(t time.Duration) { d.mu.Lock(); d.now = d.now.Add(t); d.mu.Unlock() }
func (d *db) bump()                   { d.mu.Lock(); d.v++; d.mu.Unlock() }

func setup(fresh, grace time.Duration) (*db, *Version, *Cache[string], *int) {
	d := &db{v: 1, now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	v := &Version{Read: d.read, Fresh: fresh, Grace: grace, Now: d.clock}
	fills := 0
	return d, v, New[string](v, 3), &fills
}

func get(t *testing.T, c *Cache[string], fills *int, key, val string, until time.Time) string {
	t.Helper()
	got, err := c.Get(context.Background(), key, func(context.Context) (string, time.Time, error) {
		*fills++
		return val, until, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestServedFromMemoryUntilTheVersionMoves(t *testing.T) {
	d, _, c, fills := setup(200*time.Millisecond, 500*time.Millisecond)
	d.advance(time.Second) // settled: the version was first seen long ago
	get(t, c, fills, "p1", "a", time.Time{})
	d.advance(time.Second)
	get(t, c, fills, "p1", "a", time.Time{})
	if got := get(t, c, fills, "p1", "b", time.Time{}); got != "a" || *fills != 2 {
		// the first fill happened while the first-seen version was still
		// within grace, so it was refilled once after grace.
		t.Fatalf("got %q after %d fills, want the cached a after 2", got, *fills)
	}
	reads := d.reads
	for range 100 {
		get(t, c, fills, "p1", "x", time.Time{})
	}
	if d.reads != reads || *fills != 2 {
		t.Fatalf("within Fresh: %d version reads, %d fills; want none", d.reads-reads, *fills-2)
	}
	// Another server writes: within Fresh the old page may still show…
	d.bump()
	if got := get(t, c, fills, "p1", "new", time.Time{}); got != "a" {
		t.Fatalf("within Fresh of the last read: %q", got)
	}
	// …after it, never.
	d.advance(200 * time.Millisecond)
	if got := get(t, c, fills, "p1", "new", time.Time{}); got != "new" {
		t.Fatalf("after Fresh: %q, want new", got)
	}
}

func TestTouchRereadsAtOnce(t *testing.T) {
	d, v, c, fills := setup(time.Hour, 0)
	get(t, c, fills, "p1", "a", time.Time{})
	d.bump()
	if got := get(t, c, fills, "p1", "b", time.Time{}); got != "a" {
		t.Fatalf("without a touch, within Fresh: %q", got)
	}
	v.Touch()
	if got := get(t, c, fills, "p1", "b", time.Time{}); got != "b" {
		t.Fatalf("after a touch: %q, want b", got)
	}
}

// A page filled just after the version moved may hold rows from before the
// writer committed: it is filled again once Grace has passed.
func TestEntriesFilledWithinGraceAreRefilled(t *testing.T) {
	d, _, c, fills := setup(0, 500*time.Millisecond)
	d.advance(time.Second)
	get(t, c, fills, "p1", "old", time.Time{})
	d.advance(time.Second)
	d.bump()
	get(t, c, fills, "p1", "pre-commit", time.Time{}) // the writer has not committed yet
	d.advance(100 * time.Millisecond)
	if got := get(t, c, fills, "p1", "committed", time.Time{}); got != "pre-commit" {
		t.Fatalf("within grace: %q", got)
	}
	d.advance(500 * time.Millisecond)
	if got := get(t, c, fills, "p1", "committed", time.Time{}); got != "committed" {
		t.Fatalf("after grace: %q, want the refilled page", got)
	}
	if got := get(t, c, fills, "p1", "again", time.Time{}); got != "committed" {
		t.Fatalf("a page filled after grace is settled: %q", got)
	}
}

func TestOwnExpiryAndBoundAndErrors(t *testing.T) {
	d, _, c, fills := setup(time.Hour, 0)
	until := d.clock().Add(time.Minute)
	get(t, c, fills, "sale", "before", until)
	d.advance(59 * time.Second)
	if got := get(t, c, fills, "sale", "after", time.Time{}); got != "before" {
		t.Fatalf("before the sale starts: %q", got)
	}
	d.advance(time.Second)
	if got := get(t, c, fills, "sale", "after", time.Time{}); got != "after" {
		t.Fatalf("at the sale's start: %q", got)
	}
	for _, k := range []string{"a", "b", "c"} {
		get(t, c, fills, k, k, time.Time{})
	}
	if n := len(c.entries); n > 3 {
		t.Fatalf("%d entries, bound 3", n)
	}
	boom := errors.New("boom")
	if _, err := c.Get(context.Background(), "e", func(context.Context) (string, time.Time, error) { return "", time.Time{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("fill error: %v", err)
	}
	if got := get(t, c, fills, "e", "ok", time.Time{}); got != "ok" {
		t.Fatalf("an error is not cached: %q", got)
	}
	// The database down: the version read fails and so does the read.
	d.fail = boom
	_, v2, c2, f2 := setup(0, 0)
	v2.Read = d.read
	if _, err := c2.Get(context.Background(), "x", func(context.Context) (string, time.Time, error) { *f2++; return "", time.Time{}, nil }); !errors.Is(err, boom) || *f2 != 0 {
		t.Fatalf("version unreadable: %v after %d fills", err, *f2)
	}
}

// Many asking at once for a key that needs filling make one fill; each
// waiter answers what it filled.
func TestOneFillPerKeyAtATime(t *testing.T) {
	_, _, c, _ := setup(time.Hour, 0)
	var mu sync.Mutex
	fills := 0
	release := make(chan struct{})
	fill := func(context.Context) (string, time.Time, error) {
		mu.Lock()
		fills++
		mu.Unlock()
		<-release
		return "v", time.Time{}, nil
	}
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if got[i], err = c.Get(context.Background(), "k", fill); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, g := range got {
		if g != "v" {
			t.Fatalf("caller %d got %q", i, g)
		}
	}
	if fills != 1 {
		t.Fatalf("%d fills for one key asked by 20 at once, want 1", fills)
	}
	// A waiter whose context ends stops waiting; a fill that fails releases
	// the crowd and is not kept.
	block := make(chan struct{})
	boom := errors.New("boom")
	go c.Get(context.Background(), "f", func(context.Context) (string, time.Time, error) {
		<-block
		return "", time.Time{}, boom
	})
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "f", fill); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter: %v", err)
	}
	close(block)
	time.Sleep(20 * time.Millisecond)
	if v, err := c.Get(context.Background(), "f", func(context.Context) (string, time.Time, error) { return "ok", time.Time{}, nil }); err != nil || v != "ok" {
		t.Fatalf("after a failed fill: %q %v", v, err)
	}
}
