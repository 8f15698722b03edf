package storage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// The one-statement reads answer what their two reads answer: a member's
// tiers and settings (Rules), and a customer's KOC binding with the
// programme's settings (BindingSettings), with and without a binding.
func TestCombinedReadsAnswerAsTheirParts(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDB(t)
	st := storage.New(db)
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

	if _, err := db.Exec(`INSERT INTO member_tiers (name, threshold, discount_bp, free_shipping, created_at, updated_at)
VALUES ('金卡', 5000, 500, true, $1, $1), ('银卡', 1000, 200, false, $1, $1)`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE member_settings SET points_per_yuan = 7, growth_per_yuan = 3`); err != nil {
		t.Fatal(err)
	}
	tiers, set, err := st.Members().Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantTiers, err := st.Members().Tiers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantSet, err := st.Members().Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tiers) != 3 || !reflect.DeepEqual(tiers, wantTiers) || set != wantSet || set.PointsPerYuan != 7 {
		t.Fatalf("rules %+v %+v, want %+v %+v", tiers, set, wantTiers, wantSet)
	}

	var shopper, tp int64
	if err := db.Get(&shopper, `INSERT INTO shoppers (openid, nickname) VALUES ('o-bound', '阿青') RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&tp, `WITH k AS (INSERT INTO shoppers (openid) VALUES ('o-koc') RETURNING id)
INSERT INTO touchpoints (kind, name, shopper_id) SELECT 'koc', 'k', id FROM k RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE koc_settings SET binding_days = 30, order_cap_fen = 500`); err != nil {
		t.Fatal(err)
	}
	kocs := st.KOCs()
	wantKS, err := kocs.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, ks, err := kocs.BindingSettings(ctx, shopper)
	if err != nil || b != nil || ks != wantKS || ks.BindingDays != 30 {
		t.Fatalf("unbound: %+v %+v %v, want no binding and %+v", b, ks, err, wantKS)
	}
	if _, err := db.Exec(`INSERT INTO koc_bindings (shopper_id, referrer_kind, referrer_tp_id, origin_code, bound_from, bound_until, updated_at)
VALUES ($1, 'koc', $2, 'CODE1', $3, $4, $3)`, shopper, tp, now, now.AddDate(0, 0, 30)); err != nil {
		t.Fatal(err)
	}
	want, err := kocs.Binding(ctx, shopper)
	if err != nil || want == nil {
		t.Fatalf("binding: %v %v", want, err)
	}
	b, ks, err = kocs.BindingSettings(ctx, shopper)
	if err != nil || b == nil || !reflect.DeepEqual(*b, *want) || ks != wantKS || b.Nickname != "阿青" || b.Binding.Referrer.ID != tp {
		t.Fatalf("bound: %+v %+v %v, want %+v", b, ks, err, want)
	}
}
