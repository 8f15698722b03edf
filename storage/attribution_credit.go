package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// --- orders ---

// paidOrderSQL reads a paid order and its lines (in line order, as arrays),
// with the attribution settings (one row), in one statement.
const paidOrderSQL = `
SELECT st.model, st.lookback_seconds, st.half_life_seconds, o.id, o.order_no, COALESCE(o.shopper_id, 0) AS shopper_id, o.placed_at, o.paid_at,
       COALESCE(o.store_id, 0) AS store_id, COALESCE(o.clerk_id, 0) AS clerk_id,
       o.shopper_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders p WHERE p.shopper_id = o.shopper_id AND p.id <> o.id
                   AND p.paid_at IS NOT NULL AND (p.paid_at, p.id) < (o.paid_at, o.id)) AS new_customer,
       l.item_ids, l.product_ids, l.paid_fens
FROM attribution_settings st, orders o,
     LATERAL (SELECT array_agg(i.id ORDER BY i.line_no) AS item_ids, array_agg(i.product_id ORDER BY i.line_no) AS product_ids,
                     array_agg(i.paid_fen ORDER BY i.line_no) AS paid_fens
              FROM order_items i WHERE i.order_id = o.id) l
WHERE o.id = $1 AND o.paid_at IS NOT NULL`

// PaidOrder implements attribution.Store.
func (a Attribution) PaidOrder(ctx context.Context, orderID int64) (attribution.PaidOrder, attribution.Settings, error) {
	var r struct {
		attrSettingsRow
		ID          int64         `db:"id"`
		Number      string        `db:"order_no"`
		ShopperID   int64         `db:"shopper_id"`
		PlacedAt    time.Time     `db:"placed_at"`
		PaidAt      time.Time     `db:"paid_at"`
		StoreID     int64         `db:"store_id"`
		ClerkID     int64         `db:"clerk_id"`
		NewCustomer bool          `db:"new_customer"`
		ItemIDs     pq.Int64Array `db:"item_ids"`
		ProductIDs  pq.Int64Array `db:"product_ids"`
		Paid        pq.Int64Array `db:"paid_fens"`
	}
	if err := sqlx.GetContext(ctx, a.ext(), &r, paidOrderSQL, orderID); err != nil {
		return attribution.PaidOrder{}, attribution.Settings{}, mapErrNotFound(err, domain.E(domain.KindNotFound, "order_not_paid", "No such paid order."))
	}
	if len(r.ProductIDs) != len(r.ItemIDs) || len(r.Paid) != len(r.ItemIDs) {
		return attribution.PaidOrder{}, attribution.Settings{}, fmt.Errorf("storage: paid order %d: line arrays of different lengths", orderID)
	}
	set := r.attrSettingsRow.settings()
	o := attribution.PaidOrder{ID: r.ID, Number: r.Number, ShopperID: r.ShopperID, PlacedAt: r.PlacedAt, PaidAt: r.PaidAt,
		StoreID: r.StoreID, ClerkID: r.ClerkID, NewCustomer: r.NewCustomer, ProductOf: map[int64]int64{}}
	for i, id := range r.ItemIDs {
		o.Lines = append(o.Lines, attribution.Line{ItemID: id, Paid: domain.Fen(r.Paid[i])})
		o.ProductOf[id] = r.ProductIDs[i]
	}
	return o, set, nil
}

// --- stored attributions ---

type tpJSON struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
}

type lineJSON struct {
	ItemID int64 `json:"item_id"`
	Amount int64 `json:"amount_fen"`
}

type creditJSON struct {
	TouchID     int64      `json:"touch_id"`
	Touchpoints []tpJSON   `json:"touchpoints"`
	Weight      int64      `json:"weight"`
	Amount      int64      `json:"amount_fen"`
	Lines       []lineJSON `json:"lines"`
}

type touchJSON struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Touchpoints []tpJSON  `json:"touchpoints"`
	Scene       int       `json:"scene"`
	Code        string    `json:"code"`
	Chat        string    `json:"chat,omitempty"`
}

type weightJSON struct {
	TouchID int64  `json:"touch_id"`
	Parts   int64  `json:"parts"`
	Reason  string `json:"reason"`
}

type explanationJSON struct {
	Model      string       `json:"model"`
	Lookback   int64        `json:"lookback_seconds"`
	HalfLife   int64        `json:"half_life_seconds,omitempty"`
	Candidates []touchJSON  `json:"candidates"`
	Weights    []weightJSON `json:"weights"`
	Reasons    []string     `json:"reasons"`
}

func tpsJSON(tps []attribution.Touchpoint) []tpJSON {
	out := make([]tpJSON, len(tps))
	for i, t := range tps {
		out[i] = tpJSON{Kind: string(t.Kind), ID: t.ID}
	}
	return out
}

func tpsOf(js []tpJSON) []attribution.Touchpoint {
	out := make([]attribution.Touchpoint, len(js))
	for i, t := range js {
		out[i] = attribution.Touchpoint{Kind: attribution.TouchpointKind(t.Kind), ID: t.ID}
	}
	return out
}

func creditsJSON(cs []attribution.Credit) []byte {
	out := make([]creditJSON, len(cs))
	for i, c := range cs {
		cj := creditJSON{TouchID: c.TouchID, Touchpoints: tpsJSON(c.Touchpoints), Weight: c.Weight, Amount: int64(c.Amount)}
		for _, l := range c.Lines {
			cj.Lines = append(cj.Lines, lineJSON{ItemID: l.ItemID, Amount: int64(l.Amount)})
		}
		out[i] = cj
	}
	b, _ := json.Marshal(out)
	return b
}

func creditsOf(b []byte) ([]attribution.Credit, error) {
	var js []creditJSON
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, fmt.Errorf("storage: credits json: %w", err)
	}
	out := make([]attribution.Credit, len(js))
	for i, c := range js {
		cr := attribution.Credit{TouchID: c.TouchID, Touchpoints: tpsOf(c.Touchpoints), Weight: c.Weight, Amount: domain.Fen(c.Amount)}
		for _, l := range c.Lines {
			cr.Lines = append(cr.Lines, attribution.LineAmount{ItemID: l.ItemID, Amount: domain.Fen(l.Amount)})
		}
		out[i] = cr
	}
	return out, nil
}

func explanationJSONOf(e attribution.Explanation) []byte {
	ej := explanationJSON{Model: string(e.Model), Lookback: int64(e.Lookback / time.Second), HalfLife: int64(e.HalfLife / time.Second),
		Candidates: []touchJSON{}, Weights: []weightJSON{}, Reasons: e.Reasons}
	for _, t := range e.Candidates {
		ej.Candidates = append(ej.Candidates, touchJSON{ID: t.ID, At: t.At, Touchpoints: tpsJSON(t.Touchpoints), Scene: t.Scene, Code: t.Code, Chat: string(t.Chat)})
	}
	for _, w := range e.Weights {
		ej.Weights = append(ej.Weights, weightJSON{TouchID: w.TouchID, Parts: w.Parts, Reason: w.Reason})
	}
	b, _ := json.Marshal(ej)
	return b
}

func explanationOf(b []byte) (attribution.Explanation, error) {
	var ej explanationJSON
	if err := json.Unmarshal(b, &ej); err != nil {
		return attribution.Explanation{}, fmt.Errorf("storage: explanation json: %w", err)
	}
	e := attribution.Explanation{Model: attribution.Model(ej.Model), Lookback: time.Duration(ej.Lookback) * time.Second,
		HalfLife: time.Duration(ej.HalfLife) * time.Second, Reasons: ej.Reasons}
	for _, t := range ej.Candidates {
		e.Candidates = append(e.Candidates, attribution.Touch{ID: t.ID, At: t.At, Touchpoints: tpsOf(t.Touchpoints), Scene: t.Scene, Code: t.Code, Chat: attribution.Chat(t.Chat)})
	}
	for _, w := range ej.Weights {
		e.Weights = append(e.Weights, attribution.Weight{TouchID: w.TouchID, Parts: w.Parts, Reason: w.Reason})
	}
	return e, nil
}

// creditRowsSQL books credits (or reversals) per model, touchpoint and line
// and folds them into the rollups, in one statement: attribution_daily (per
// buyer and day), the buyer's latest and second-latest order day per
// touchpoint, and attribution_tp_daily (per day and touchpoint; see
// migration 00006), upserting in key order.
// Credits count an order for a touchpoint when its sum there is positive;
// reversals add to refunded_fen only.
const creditRowsSQL = `
WITH c AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
        AS c(model, kind, touchpoint_id, item_id, product_id, amount_fen)
), ins AS (
    INSERT INTO attribution_credits (order_id, model, kind, touchpoint_id, item_id, product_id, day, amount_fen, reversal, at)
    SELECT $7, model, kind, touchpoint_id, item_id, product_id, $8::date, amount_fen, $11, $12 FROM c
), per AS (
    SELECT model, kind, touchpoint_id,
           CASE WHEN NOT $11 AND sum(amount_fen) > 0 THEN 1 ELSE 0 END AS orders,
           CASE WHEN NOT $11 AND sum(amount_fen) > 0 AND $10 THEN 1 ELSE 0 END AS nco,
           CASE WHEN $11 THEN 0 ELSE sum(amount_fen) END AS credited,
           CASE WHEN $11 THEN -sum(amount_fen) ELSE 0 END AS refunded
    FROM c GROUP BY model, kind, touchpoint_id
), ad AS (
    INSERT INTO attribution_daily AS d (model, kind, day, touchpoint_id, shopper_id, orders, new_customer_orders, credited_fen, refunded_fen)
    SELECT model, kind, $8::date, touchpoint_id, $9, orders, nco, credited, refunded FROM per ORDER BY 1, 2, 4
    ON CONFLICT (model, kind, day, touchpoint_id, shopper_id) DO UPDATE SET
        orders = d.orders + EXCLUDED.orders, new_customer_orders = d.new_customer_orders + EXCLUDED.new_customer_orders,
        credited_fen = d.credited_fen + EXCLUDED.credited_fen, refunded_fen = d.refunded_fen + EXCLUDED.refunded_fen
), bl AS (
    INSERT INTO attribution_buyer_last AS b (model, kind, touchpoint_id, shopper_id, last_day)
    SELECT model, kind, touchpoint_id, $9, $8::date FROM per WHERE orders > 0 ORDER BY 1, 2, 3
    ON CONFLICT (model, kind, touchpoint_id, shopper_id) DO UPDATE SET
        was_last = b.last_day, was_prev = b.prev_day,
        last_day = GREATEST(b.last_day, EXCLUDED.last_day),
        prev_day = CASE WHEN EXCLUDED.last_day >= b.last_day THEN b.last_day ELSE GREATEST(b.prev_day, EXCLUDED.last_day) END
    RETURNING model, kind, touchpoint_id, last_day, prev_day, was_last, was_prev
), deltas (model, kind, day, touchpoint_id, orders, nco, credited, refunded, last_buyers, prev_buyers) AS (
    SELECT model, kind, $8::date, touchpoint_id, orders, nco, credited, refunded, 0, 0 FROM per
    UNION ALL SELECT model, kind, last_day, touchpoint_id, 0, 0, 0, 0, 1, 0 FROM bl
    UNION ALL SELECT model, kind, was_last, touchpoint_id, 0, 0, 0, 0, -1, 0 FROM bl WHERE was_last IS NOT NULL
    UNION ALL SELECT model, kind, prev_day, touchpoint_id, 0, 0, 0, 0, 0, 1 FROM bl WHERE prev_day IS NOT NULL
    UNION ALL SELECT model, kind, was_prev, touchpoint_id, 0, 0, 0, 0, 0, -1 FROM bl WHERE was_prev IS NOT NULL
)
INSERT INTO attribution_tp_daily AS d (model, kind, day, touchpoint_id, orders, new_customer_orders, credited_fen,
                                       refunded_fen, last_buyers, prev_buyers)
SELECT model, kind, day, touchpoint_id, sum(orders), sum(nco), sum(credited), sum(refunded), sum(last_buyers), sum(prev_buyers)
FROM deltas GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (model, kind, day, touchpoint_id) DO UPDATE SET
    orders = d.orders + EXCLUDED.orders, new_customer_orders = d.new_customer_orders + EXCLUDED.new_customer_orders,
    credited_fen = d.credited_fen + EXCLUDED.credited_fen, refunded_fen = d.refunded_fen + EXCLUDED.refunded_fen,
    last_buyers = d.last_buyers + EXCLUDED.last_buyers, prev_buyers = d.prev_buyers + EXCLUDED.prev_buyers`

type creditRows struct {
	models, kinds                 pq.StringArray
	tps, items, products, amounts pq.Int64Array
}

func (r *creditRows) add(model attribution.Model, cs []attribution.Credit, productOf map[int64]int64) {
	for _, c := range cs {
		for _, tp := range c.Touchpoints {
			for _, l := range c.Lines {
				if l.Amount == 0 {
					continue
				}
				r.models = append(r.models, string(model))
				r.kinds = append(r.kinds, string(tp.Kind))
				r.tps = append(r.tps, tp.ID)
				r.items = append(r.items, l.ItemID)
				r.products = append(r.products, productOf[l.ItemID])
				r.amounts = append(r.amounts, int64(l.Amount))
			}
		}
	}
}

func (a Attribution) bookCredits(ctx context.Context, r creditRows, orderID int64, day string, shopperID int64, newCustomer, reversal bool, at time.Time) error {
	if len(r.models) == 0 {
		return nil
	}
	_, err := a.ext().ExecContext(ctx, creditRowsSQL, r.models, r.kinds, r.tps, r.items, r.products, r.amounts,
		orderID, day, shopperID, newCustomer, reversal, at)
	if err != nil {
		return fmt.Errorf("storage: book credits: %w", mapErr(err))
	}
	return nil
}

func (a Attribution) SaveAttribution(ctx context.Context, at attribution.OrderAttribution) error {
	o := at.Order
	day := attribution.Day(o.PaidAt).Format(time.DateOnly)
	var paid domain.Fen
	for _, l := range o.Lines {
		paid += l.Paid
	}
	var models, expls, credits []string
	var directs []bool
	var rows creditRows
	var byKind [len(dayTotalKinds)]pq.Int64Array // per kind, each model's credited amount
	for _, m := range at.Models {
		models = append(models, string(m.Model))
		directs = append(directs, m.Direct)
		expls = append(expls, string(explanationJSONOf(m.Explanation)))
		credits = append(credits, string(creditsJSON(m.Credits)))
		from := len(rows.amounts)
		rows.add(m.Model, m.Credits, o.ProductOf)
		sums, err := creditedByKind(rows.kinds[from:], rows.amounts[from:])
		if err != nil {
			return err
		}
		for k, s := range sums {
			byKind[k] = append(byKind[k], s)
		}
	}
	// One statement: the attribution, its models and the day totals (with
	// each kind's credited amount, migration 00028), only where there is
	// none — an order attributed already (by a concurrent transaction, which
	// this one waits for) is left as it is, without a failed statement
	// aborting the paying transaction.
	var inserted int
	err := sqlx.GetContext(ctx, a.ext(), &inserted, `
WITH a AS (
    INSERT INTO order_attributions (order_id, shopper_id, default_model, placed_at, paid_at, day, paid_fen, new_customer, in_store, attributed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id
), m AS (
    INSERT INTO order_attribution_models (order_id, model, direct, explanation, credits)
    SELECT a.order_id, u.m, u.d, u.e::jsonb, u.c::jsonb FROM a, unnest($11::text[], $12::boolean[], $13::text[], $14::text[]) AS u(m, d, e, c)
), t AS (
    INSERT INTO attribution_day_totals AS t (model, day, shard, orders, direct_orders, paid_fen, credited_post_fen,
                                             credited_koc_fen, credited_group_fen, credited_store_fen, credited_clerk_fen)
    SELECT u.m, $6::date, $15, 1, u.d::int, $7, u.cp, u.ck, u.cg, u.cs, u.cc
    FROM a, unnest($11::text[], $12::boolean[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[])
         AS u(m, d, cp, ck, cg, cs, cc)
    ORDER BY u.m
    ON CONFLICT (model, day, shard) DO UPDATE SET orders = t.orders + 1,
        direct_orders = t.direct_orders + EXCLUDED.direct_orders, paid_fen = t.paid_fen + EXCLUDED.paid_fen,
        credited_post_fen = t.credited_post_fen + EXCLUDED.credited_post_fen,
        credited_koc_fen = t.credited_koc_fen + EXCLUDED.credited_koc_fen,
        credited_group_fen = t.credited_group_fen + EXCLUDED.credited_group_fen,
        credited_store_fen = t.credited_store_fen + EXCLUDED.credited_store_fen,
        credited_clerk_fen = t.credited_clerk_fen + EXCLUDED.credited_clerk_fen
)
SELECT count(*) FROM a`,
		o.ID, o.ShopperID, string(at.DefaultModel), o.PlacedAt, o.PaidAt, day, int64(paid), o.NewCustomer, at.InStore, at.At,
		pq.StringArray(models), pq.BoolArray(directs), pq.StringArray(expls), pq.StringArray(credits), o.ID%dayTotalShards,
		byKind[0], byKind[1], byKind[2], byKind[3], byKind[4])
	if err != nil {
		return fmt.Errorf("storage: save attribution: %w", mapErr(err))
	}
	if inserted == 0 {
		return attribution.ErrAlreadyAttributed
	}
	return a.bookCredits(ctx, rows, o.ID, day, o.ShopperID, o.NewCustomer, false, at.At)
}

// dayTotalKinds are the touchpoint kinds whose credited amounts the day
// totals carry, in the order of their columns credited_<kind>_fen
// (migration 00028; periodTotalsSQL reads them).
var dayTotalKinds = [...]attribution.TouchpointKind{attribution.KindPost, attribution.KindKOC, attribution.KindGroup,
	attribution.KindStore, attribution.KindClerk}

// creditedByKind sums a model's booked credit rows (kinds and amounts, as
// creditRows holds them, so the sums are what attribution_tp_daily's
// credited_fen gains) per kind of dayTotalKinds.
func creditedByKind(kinds []string, amounts []int64) ([len(dayTotalKinds)]int64, error) {
	var sums [len(dayTotalKinds)]int64
next:
	for i, k := range kinds {
		for j, dk := range dayTotalKinds {
			if k == string(dk) {
				sums[j] += amounts[i]
				continue next
			}
		}
		return sums, fmt.Errorf("storage: save attribution: a credit of touchpoint kind %q, which the day totals do not carry", k)
	}
	return sums, nil
}

// dayTotalShards spreads each day's attribution totals over rows, so that
// concurrent payments rarely update the same row (a shard is held to the
// paying transaction's commit); reports sum the shards.
const dayTotalShards = 64

type attributionRow struct {
	OrderID      int64     `db:"order_id"`
	Number       string    `db:"order_no"`
	ShopperID    int64     `db:"shopper_id"`
	DefaultModel string    `db:"default_model"`
	PlacedAt     time.Time `db:"placed_at"`
	PaidAt       time.Time `db:"paid_at"`
	Day          time.Time `db:"day"`
	PaidFen      int64     `db:"paid_fen"`
	NewCustomer  bool      `db:"new_customer"`
	InStore      bool      `db:"in_store"`
	At           time.Time `db:"attributed_at"`
}

// Attribution reads an order's attribution and its models in one statement
// (the header repeated on each model's row). forUpdate first locks the
// attribution in a statement of its own: the read that follows then sees
// the reversals a transaction that held the lock wrote (one statement
// that locked and joined would answer from its snapshot taken before the
// wait).
func (a Attribution) Attribution(ctx context.Context, orderID int64, forUpdate bool) (attribution.OrderAttribution, error) {
	if forUpdate {
		var locked int64
		err := sqlx.GetContext(ctx, a.ext(), &locked, `SELECT order_id FROM order_attributions WHERE order_id = $1 FOR UPDATE`, orderID)
		if err != nil {
			return attribution.OrderAttribution{}, mapErrNotFound(err, attribution.ErrNotAttributed)
		}
	}
	q := `
SELECT a.order_id, o.order_no, a.shopper_id, a.default_model, a.placed_at, a.paid_at, a.day, a.paid_fen, a.new_customer,
       a.in_store, a.attributed_at, m.model, m.direct, m.explanation, m.credits, m.reversals
FROM order_attributions a JOIN orders o ON o.id = a.order_id
LEFT JOIN order_attribution_models m ON m.order_id = a.order_id
WHERE a.order_id = $1
ORDER BY array_position(ARRAY['last_touch', 'first_touch', 'linear', 'time_decay', 'position_based'], m.model)`
	var rows []struct {
		attributionRow
		Model       sql.NullString `db:"model"`
		Direct      sql.NullBool   `db:"direct"`
		Explanation []byte         `db:"explanation"`
		Credits     []byte         `db:"credits"`
		Reversals   []byte         `db:"reversals"`
	}
	if err := sqlx.SelectContext(ctx, a.ext(), &rows, q, orderID); err != nil {
		return attribution.OrderAttribution{}, fmt.Errorf("storage: attribution: %w", mapErr(err))
	}
	if len(rows) == 0 {
		return attribution.OrderAttribution{}, attribution.ErrNotAttributed
	}
	h := rows[0].attributionRow
	out := attribution.OrderAttribution{
		Order: attribution.PaidOrder{ID: h.OrderID, Number: h.Number, ShopperID: h.ShopperID, PlacedAt: h.PlacedAt,
			PaidAt: h.PaidAt, NewCustomer: h.NewCustomer},
		Paid: domain.Fen(h.PaidFen), DefaultModel: attribution.Model(h.DefaultModel), InStore: h.InStore, At: h.At}
	for _, m := range rows {
		if !m.Model.Valid {
			continue // no models (LEFT JOIN)
		}
		ex, err := explanationOf(m.Explanation)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		cs, err := creditsOf(m.Credits)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		rs, err := creditsOf(m.Reversals)
		if err != nil {
			return attribution.OrderAttribution{}, err
		}
		out.Models = append(out.Models, attribution.ModelAttribution{Model: attribution.Model(m.Model.String), Direct: m.Direct.Bool,
			Explanation: ex, Credits: cs, Reversals: rs})
	}
	return out, nil
}

func (a Attribution) AttributionByNumber(ctx context.Context, orderNo string) (attribution.OrderAttribution, error) {
	var id int64
	err := sqlx.GetContext(ctx, a.ext(), &id, `
SELECT a.order_id FROM orders o JOIN order_attributions a ON a.order_id = o.id WHERE o.order_no = $1`, orderNo)
	if err != nil {
		return attribution.OrderAttribution{}, mapErrNotFound(err, attribution.ErrNotAttributed)
	}
	return a.Attribution(ctx, id, false)
}

func (a Attribution) SaveReversals(ctx context.Context, orderID int64, model attribution.Model, rev []attribution.Credit, at time.Time) error {
	var h struct {
		ShopperID int64     `db:"shopper_id"`
		Day       time.Time `db:"day"`
	}
	if err := sqlx.GetContext(ctx, a.ext(), &h, `SELECT shopper_id, day FROM order_attributions WHERE order_id = $1`, orderID); err != nil {
		return mapErrNotFound(err, attribution.ErrNotAttributed)
	}
	_, err := a.ext().ExecContext(ctx, `
UPDATE order_attribution_models SET reversals = reversals || $3::jsonb WHERE order_id = $1 AND model = $2`,
		orderID, string(model), string(creditsJSON(rev)))
	if err != nil {
		return fmt.Errorf("storage: save reversals: %w", mapErr(err))
	}
	var products []struct {
		ID        int64 `db:"id"`
		ProductID int64 `db:"product_id"`
	}
	if err := sqlx.SelectContext(ctx, a.ext(), &products, `SELECT id, product_id FROM order_items WHERE order_id = $1`, orderID); err != nil {
		return fmt.Errorf("storage: save reversals: %w", mapErr(err))
	}
	productOf := map[int64]int64{}
	for _, p := range products {
		productOf[p.ID] = p.ProductID
	}
	var rows creditRows
	rows.add(model, rev, productOf)
	return a.bookCredits(ctx, rows, orderID, h.Day.Format(time.DateOnly), h.ShopperID, false, true, at)
}
