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

// A Recent value is kept for Fresh after its read began, whatever the
// version does, and a Touch drops everything read before it.
func TestRecentKeptForFreshDroppedByTouch(t *testing.T) {
	d, v, _, _ := setup(200*time.Millisecond, 500*time.Millisecond)
	r := NewRecent[int](v, 10)
	reads := 0
	get := func(key string) int {
		t.Helper()
		got, err := r.Get(context.Background(), key, func(context.Context) (int, error) {
			reads++
			return reads, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if get("a") != 1 || get("a") != 1 || reads != 1 {
		t.Fatalf("a second read within Fresh read again: %d reads", reads)
	}
	d.bump() // a version change elsewhere does not matter to a Recent
	d.advance(199 * time.Millisecond)
	if get("a") != 1 {
		t.Fatalf("read again before Fresh passed (%d reads)", reads)
	}
	d.advance(time.Millisecond)
	if get("a") != 2 {
		t.Fatalf("kept past Fresh (%d reads)", reads)
	}
	if get("b") != 3 || get("a") != 2 {
		t.Fatalf("keys mixed up (%d reads)", reads)
	}
	d.advance(time.Millisecond)
	v.Touch()
	d.advance(time.Millisecond) // a read beginning at the Touch's instant is not kept
	if get("a") != 4 || get("b") != 5 {
		t.Fatalf("a Touch left values read before it (%d reads)", reads)
	}
	if get("a") != 4 {
		t.Fatalf("a value read after the Touch was dropped (%d reads)", reads)
	}
}

// A read that began before a Touch is not kept past it, even when it ends
// after it: what it answered may predate the write.
func TestRecentReadOverlappingTouchNotKept(t *testing.T) {
	d, v, _, _ := setup(200*time.Millisecond, 0)
	r := NewRecent[int](v, 10)
	n := 0
	fill := func(context.Context) (int, error) {
		n++
		if n == 1 {
			d.advance(time.Millisecond)
			v.Touch() // a write here commits while the first read runs
		}
		return n, nil
	}
	if got, _ := r.Get(context.Background(), "k", fill); got != 1 {
		t.Fatalf("first read answered %d", got)
	}
	if got, _ := r.Get(context.Background(), "k", fill); got != 2 {
		t.Fatalf("the read overlapping the Touch was kept: %d", got)
	}
}

// Many asking for the same missing key at once make one read; a failed
// read is not kept; the bound holds.
func TestRecentOneReadPerKeyAndBound(t *testing.T) {
	_, v, _, _ := setup(time.Hour, 0)
	r := NewRecent[int](v, 2)
	var mu sync.Mutex
	reads := 0
	release := make(chan struct{})
	fill := func(context.Context) (int, error) {
		mu.Lock()
		reads++
		mu.Unlock()
		<-release
		return 7, nil
	}
	var wg sync.WaitGroup
	got := make([]int, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = r.Get(context.Background(), "k", fill)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, g := range got {
		if g != 7 {
			t.Fatalf("caller %d got %d", i, g)
		}
	}
	if reads != 1 {
		t.Fatalf("%d reads for one key asked by 20 at once, want 1", reads)
	}

	boom := errors.New("boom")
	if _, err := r.Get(context.Background(), "e", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("error: %v", err)
	}
	if got, _ := r.Get(context.Background(), "e", func(context.Context) (int, error) { return 9, nil }); got != 9 {
		t.Fatalf("a failed read was kept: %d", got)
	}
	r.Get(context.Background(), "x", func(context.Context) (int, error) { return 1, nil })
	r.mu.Lock()
	n := len(r.entries)
	r.mu.Unlock()
	if n > 2 {
		t.Fatalf("%d entries kept, bound 2", n)
	}
}
