package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// A period's first pages are answered from the credited touchpoints alone
// when the page ends on a credited one: every page of every size equals
// the same rows of the whole report, ties on the credited amount at a page's
// end included (they rank by touches), and the whole report equals the one
// counting distinct visitors and buyers; where the page reaches touchpoints
// never credited, the short path declines and the whole path answers.
func TestAttributionTopPagesOfAnOpenPeriod(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	svc := attrService(db, now)
	st := storage.New(db).Attribution()

	// Posts by credited amount (last touch) and touches: 900; three tied at
	// 500 with 3, 5 and 1 touches; 300 over two orders on two days; one
	// only touched. A buyer returns on another day, so latest-day counts
	// sit on several days.
	type post struct {
		orders  []int64 // paid amounts, one order each
		touches int
	}
	posts := []post{{[]int64{900}, 2}, {[]int64{500}, 3}, {[]int64{500}, 5}, {[]int64{500}, 1}, {[]int64{100, 200}, 2}, {nil, 4}}
	for i, p := range posts {
		l := postLink(t, svc, fmt.Sprint("post", i), attribution.PostPoster, attribution.Sharer{})
		buyer := newShopper(t, db, fmt.Sprint("buyer", i))
		for k := range p.touches {
			at := now.Add(-2*time.Minute - time.Duration(k)*25*time.Hour) // a visitor-day each, some days back
			if _, err := attrService(db, at).Track(ctx, attribution.Visitor{ShopperID: buyer}, []attribution.Event{{ID: fmt.Sprintf("p%d-%d", i, k), Code: l.Code, At: at}}); err != nil {
				t.Fatal(err)
			}
		}
		for k, amount := range p.orders {
			paid := now.Add(-time.Duration(len(p.orders)-1-k) * 24 * time.Hour).Add(-time.Minute)
			day := attrService(db, paid)
			order, _ := insertPaidOrder(t, db, buyer, paid.Add(-time.Minute), paid, amount)
			attributeInTx(t, db, day, order)
		}
	}

	today := attribution.Day(now)
	q := attribution.StatsQuery{Kind: attribution.KindPost, Model: attribution.ModelLastTouch, From: today.AddDate(0, 0, -29), To: today, Open: true}
	whole, _, err := st.DimensionStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var credited []domain.Fen
	for _, r := range whole {
		credited = append(credited, r.Credited)
	}
	if !reflect.DeepEqual(credited, []domain.Fen{900, 500, 500, 500, 300, 0}) || whole[1].Touches != 5 || whole[2].Touches != 3 || whole[3].Touches != 1 {
		t.Fatalf("whole report: %+v", whole)
	}
	closed := q
	closed.Open = false
	distinct, _, err := st.DistinctStats(ctx, closed)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(whole, distinct) {
		t.Fatalf("whole report\n%+v\n!= distinct counts\n%+v", whole, distinct)
	}

	short := 0
	for size := 1; size <= 4; size++ {
		for off := 0; off < len(whole)+1; off++ {
			q.Offset, q.Limit = off, size
			page, more, err := st.DimensionStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			end := min(off+size, len(whole))
			want := whole[min(off, len(whole)):end]
			if len(want) == 0 {
				want = nil
			}
			if len(page) == 0 {
				page = nil
			}
			if !reflect.DeepEqual(page, want) || more != (end < len(whole)) {
				t.Fatalf("size %d offset %d: %+v (more %v)\nwant %+v", size, off, page, more, want)
			}
			top, topMore, err := st.TopOpenStats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			// The short path answers exactly when the row after the page
			// (the one telling whether more follow) was credited.
			if applies := off+size < len(whole) && whole[off+size].Credited > 0; applies != (len(top) > 0) {
				t.Fatalf("size %d offset %d: short path answered %d rows", size, off, len(top))
			} else if applies {
				short++
				if !reflect.DeepEqual(top, want) || !topMore {
					t.Fatalf("size %d offset %d: short path %+v\nwant %+v", size, off, top, want)
				}
			}
		}
	}
	if short < 8 {
		t.Fatalf("the short path answered only %d pages", short)
	}
}
