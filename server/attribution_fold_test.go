package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
)

// The quarter-hourly worker folds a day at the program's clock, not
// before: at 00:09 two days after it began the day is still open to late
// touches, at 00:11 it is folded; and a report over the days reads the
// same before and after the fold.
func TestCloseAttributionFoldsADayAtTheProgramsClock(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := context.Background()
	var clock atomic.Pointer[time.Time]
	set := func(t time.Time) { clock.Store(&t) }
	set(time.Now())
	ta.app.now = func() time.Time { return *clock.Load() }
	admin := ta.staff(identity.RoleAdmin, "")

	var post struct {
		ID int64 `json:"id"`
	}
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/touchpoints", Token: admin,
		Body: map[string]any{"kind": "post", "name": "Autumn", "post_kind": "moments"}}).Decode(t, &post)
	var link struct{ Code string }
	ta.must(201, req{Method: "POST", Path: "/api/v1/admin/share-links", Token: admin, Body: map[string]any{"post_id": post.ID}}).Decode(t, &link)

	// Day D-1: ann twice. Day D: ann once, ben three times.
	d := attribution.Day(time.Now()).AddDate(0, 0, -5)
	track := func(anon string, at time.Time, n int) {
		t.Helper()
		set(at.Add(time.Hour))
		evs := make([]map[string]any, n)
		for i := range evs {
			evs[i] = map[string]any{"id": fmt.Sprintf("%s-%s-%d", anon, at.Format(time.DateOnly), i), "code": link.Code, "scene": 1007, "at": at}
		}
		var tr struct{ Accepted int }
		ta.must(200, req{Method: "POST", Path: "/api/v1/shop/track", Header: map[string]string{"X-Anon-Id": anon}, Body: map[string]any{"events": evs}}).Decode(t, &tr)
		if tr.Accepted != n {
			t.Fatalf("%s at %s: %d of %d accepted", anon, at, tr.Accepted, n)
		}
	}
	track("anon-ann-00001", d.AddDate(0, 0, -1).Add(10*time.Hour), 2)
	track("anon-ann-00001", d.Add(10*time.Hour), 1)
	track("anon-ben-00001", d.Add(11*time.Hour), 3)

	type row struct{ touches, visitors int64 }
	want := map[[2]int]row{{-1, -1}: {2, 1}, {0, 0}: {4, 2}, {-1, 0}: {6, 2}}
	reports := func(when string) {
		t.Helper()
		for days, w := range want {
			from, to := d.AddDate(0, 0, days[0]).Format(time.DateOnly), d.AddDate(0, 0, days[1]).Format(time.DateOnly)
			var r attrReport
			ta.must(200, req{Method: "GET", Path: "/api/v1/admin/reports/attribution?dimension=post&from=" + from + "&to=" + to, Token: admin}).Decode(t, &r)
			var got row
			for _, it := range r.Items {
				if it.TouchpointID == post.ID {
					got = row{it.Touches, it.UniqueVisitors}
				}
			}
			if got != w {
				t.Fatalf("%s, %s to %s: touches and visitors %v, want %v", when, from, to, got, w)
			}
		}
	}
	through := func() string {
		t.Helper()
		var s string
		if err := ta.app.db.Get(&s, `SELECT COALESCE((SELECT through::text FROM attribution_closed_through), 'none')`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	st := ta.app.store.Attribution()

	// D-1 closes at D+1 00:10; D at D+2 00:10.
	set(d.AddDate(0, 0, 2).Add(9 * time.Minute))
	reports("before the fold")
	if err := ta.app.closeAttribution(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, want := through(), d.AddDate(0, 0, -1).Format(time.DateOnly); got != want {
		t.Fatalf("folded through %s at 00:09, want %s (the day before D only)", got, want)
	}
	reports("with D-1 folded")
	set(d.AddDate(0, 0, 2).Add(11 * time.Minute))
	if err := ta.app.closeAttribution(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, want := through(), d.Format(time.DateOnly); got != want {
		t.Fatalf("folded through %s at 00:11, want %s", got, want)
	}
	reports("with D folded")
}
