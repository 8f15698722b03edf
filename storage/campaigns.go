package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/campaign"
)

// Campaigns implements campaign.Store (db.Campaigns(), tx.Campaigns()), and
// the campaigns' part of an order's life (Take, Sell, Release).
type Campaigns struct{ scope }

var _ campaign.Store = Campaigns{}

// InTx implements campaign.Store.
func (s Campaigns) InTx(ctx context.Context, fn func(campaign.Store) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Campaigns()) })
}

// Audit records an admin write in the current transaction.
func (s Campaigns) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

type campaignRow struct {
	ID              int64         `db:"id"`
	Kind            string        `db:"kind"`
	Name            string        `db:"name"`
	Status          string        `db:"status"`
	StartsAt        time.Time     `db:"starts_at"`
	EndsAt          time.Time     `db:"ends_at"`
	PerShopperLimit int           `db:"per_shopper_limit"`
	Weekday         sql.NullInt64 `db:"weekday"`
	MonthDay        sql.NullInt64 `db:"month_day"`
	BoostBP         int           `db:"boost_bp"`
	CreatedAt       time.Time     `db:"created_at"`
	UpdatedAt       time.Time     `db:"updated_at"`
}

const campaignCols = `id, kind, name, status, starts_at, ends_at, per_shopper_limit, weekday, month_day, boost_bp, created_at, updated_at`

func intPtr(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

func (r campaignRow) toDomain() campaign.Campaign {
	return campaign.Campaign{ID: r.ID, Kind: campaign.Kind(r.Kind), Name: r.Name, Status: campaign.Status(r.Status),
		StartsAt: r.StartsAt, EndsAt: r.EndsAt, PerShopperLimit: r.PerShopperLimit, Weekday: intPtr(r.Weekday),
		MonthDay: intPtr(r.MonthDay), BoostBP: r.BoostBP, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type campaignSKURow struct {
	CampaignID int64 `db:"campaign_id"`
	SKUID      int64 `db:"sku_id"`
	Price      int64 `db:"price_fen"`
	Allotment  int   `db:"allotment"`
	Taken      int   `db:"taken"`
}

// withSKUs loads the SKUs of the campaigns.
func (s Campaigns) withSKUs(ctx context.Context, rows []campaignRow) ([]campaign.Campaign, error) {
	out := make([]campaign.Campaign, len(rows))
	ids := make([]int64, len(rows))
	at := map[int64]int{}
	for i, r := range rows {
		out[i] = r.toDomain()
		ids[i] = r.ID
		at[r.ID] = i
	}
	if len(ids) == 0 {
		return out, nil
	}
	var ks []campaignSKURow
	if err := sqlx.SelectContext(ctx, s.ext(), &ks, `
SELECT campaign_id, sku_id, price_fen, allotment, taken FROM campaign_skus WHERE campaign_id = ANY($1) ORDER BY campaign_id, sku_id`,
		pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("storage: campaign skus: %w", mapErr(err))
	}
	for _, k := range ks {
		c := &out[at[k.CampaignID]]
		c.SKUs = append(c.SKUs, campaign.SKU{SKUID: k.SKUID, Price: domain.Fen(k.Price), Allotment: k.Allotment, Taken: k.Taken})
	}
	return out, nil
}

// putSKUs writes the campaign's SKUs (upserting prices and allotments; the
// CHECK keeps allotment ≥ taken) and drops those no longer listed.
func (s Campaigns) putSKUs(ctx context.Context, c campaign.Campaign) error {
	ids := make([]int64, len(c.SKUs))
	prices := make([]int64, len(c.SKUs))
	allot := make([]int64, len(c.SKUs))
	for i, k := range c.SKUs {
		ids[i], prices[i], allot[i] = k.SKUID, int64(k.Price), int64(k.Allotment)
	}
	if _, err := s.ext().ExecContext(ctx, `DELETE FROM campaign_skus WHERE campaign_id = $1 AND NOT (sku_id = ANY($2)) AND taken = 0`,
		c.ID, pq.Array(ids)); err != nil {
		return fmt.Errorf("storage: campaign skus: %w", mapErr(err))
	}
	_, err := s.ext().ExecContext(ctx, `
INSERT INTO campaign_skus (campaign_id, sku_id, price_fen, allotment)
SELECT $1, u.sku, u.price, u.allot FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS u(sku, price, allot)
ON CONFLICT (campaign_id, sku_id) DO UPDATE SET price_fen = EXCLUDED.price_fen, allotment = EXCLUDED.allotment`,
		c.ID, pq.Array(ids), pq.Array(prices), pq.Array(allot))
	if isFKViolation(err) {
		return campaign.ErrSKUNotFound
	}
	if isCheck(err, "campaign_skus_allotment") {
		return domain.Invalid(domain.FieldError{Field: "skus", Code: "min", Message: "an allotment is below the units already taken"})
	}
	if err != nil {
		return fmt.Errorf("storage: campaign skus: %w", mapErr(err))
	}
	return nil
}

// Create implements campaign.Store.
func (s Campaigns) Create(ctx context.Context, c campaign.Campaign, at time.Time) (campaign.Campaign, error) {
	var r campaignRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `
INSERT INTO campaigns (kind, name, status, starts_at, ends_at, per_shopper_limit, weekday, month_day, boost_bp, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING `+campaignCols,
		string(c.Kind), c.Name, string(c.Status), c.StartsAt, c.EndsAt, c.PerShopperLimit, nullInt(c.Weekday), nullInt(c.MonthDay), c.BoostBP, at)
	if err != nil {
		return campaign.Campaign{}, fmt.Errorf("storage: create campaign: %w", mapErr(err))
	}
	c.ID = r.ID
	if err := s.putSKUs(ctx, c); err != nil {
		return campaign.Campaign{}, err
	}
	return s.Get(ctx, r.ID, false)
}

// Update implements campaign.Store.
func (s Campaigns) Update(ctx context.Context, c campaign.Campaign, at time.Time) (campaign.Campaign, error) {
	res, err := s.ext().ExecContext(ctx, `
UPDATE campaigns SET name = $2, status = $3, starts_at = $4, ends_at = $5, per_shopper_limit = $6, weekday = $7,
    month_day = $8, boost_bp = $9, updated_at = $10 WHERE id = $1`,
		c.ID, c.Name, string(c.Status), c.StartsAt, c.EndsAt, c.PerShopperLimit, nullInt(c.Weekday), nullInt(c.MonthDay), c.BoostBP, at)
	if err != nil {
		return campaign.Campaign{}, fmt.Errorf("storage: update campaign: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return campaign.Campaign{}, campaign.ErrNotFound
	}
	if c.Kind == campaign.KindFlashSale {
		if err := s.putSKUs(ctx, c); err != nil {
			return campaign.Campaign{}, err
		}
	}
	return s.Get(ctx, c.ID, false)
}

// Get implements campaign.Store.
func (s Campaigns) Get(ctx context.Context, id int64, forUpdate bool) (campaign.Campaign, error) {
	q := `SELECT ` + campaignCols + ` FROM campaigns WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r campaignRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, q, id); err != nil {
		return campaign.Campaign{}, mapErrNotFound(err, campaign.ErrNotFound)
	}
	cs, err := s.withSKUs(ctx, []campaignRow{r})
	if err != nil {
		return campaign.Campaign{}, err
	}
	return cs[0], nil
}

// List implements campaign.Store.
func (s Campaigns) List(ctx context.Context, status campaign.Status, page domain.Page) ([]campaign.Campaign, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	// Only the filter given is in the statement (stmtArgs).
	args := stmtArgs{before, limit + 1}
	where := ""
	if status != "" {
		where = " AND status = " + args.add(string(status))
	}
	var rows []campaignRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+campaignCols+` FROM campaigns
WHERE id < $1`+where+` ORDER BY id DESC LIMIT $2`, args...); err != nil {
		return nil, "", fmt.Errorf("storage: list campaigns: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out, err := s.withSKUs(ctx, rows)
	return out, next, err
}

// Running implements campaign.Store.
func (s Campaigns) Running(ctx context.Context, kind campaign.Kind) ([]campaign.Campaign, error) {
	var rows []campaignRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+campaignCols+` FROM campaigns
WHERE kind = $1 AND status = 'running' ORDER BY id`, string(kind)); err != nil {
		return nil, fmt.Errorf("storage: running campaigns: %w", mapErr(err))
	}
	return s.withSKUs(ctx, rows)
}

// DueCampaigns implements campaign.Store.
func (s Campaigns) DueCampaigns(ctx context.Context, now time.Time, limit int) ([]campaign.Campaign, error) {
	var rows []campaignRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+campaignCols+` FROM campaigns
WHERE (status = 'scheduled' AND starts_at <= $1) OR (status IN ('scheduled', 'running', 'paused') AND ends_at <= $1)
ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit); err != nil {
		return nil, fmt.Errorf("storage: due campaigns: %w", mapErr(err))
	}
	return s.withSKUs(ctx, rows)
}

type priceRow struct {
	CampaignID      int64     `db:"campaign_id"`
	SKUID           int64     `db:"sku_id"`
	ProductID       int64     `db:"product_id"`
	Price           int64     `db:"price_fen"`
	Left            int       `db:"left_units"`
	StartsAt        time.Time `db:"starts_at"`
	EndsAt          time.Time `db:"ends_at"`
	Running         bool      `db:"running"`
	PerShopperLimit int       `db:"per_shopper_limit"`
}

// Prices implements campaign.Store: flash-sale prices running at now, and
// those of scheduled campaigns still to start, of the SKUs or of the
// products' SKUs.
func (s Campaigns) Prices(ctx context.Context, skuIDs, productIDs []int64, now time.Time) ([]campaign.Price, error) {
	var rows []priceRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT cs.campaign_id, cs.sku_id, k.product_id, cs.price_fen, cs.allotment - cs.taken AS left_units, c.starts_at, c.ends_at,
       (c.status = 'running' AND c.starts_at <= $3 AND c.ends_at > $3) AS running, c.per_shopper_limit
FROM campaign_skus cs JOIN campaigns c ON c.id = cs.campaign_id JOIN skus k ON k.id = cs.sku_id
WHERE (cs.sku_id = ANY($1) OR k.product_id = ANY($2)) AND c.kind = 'flash_sale'
  AND ((c.status = 'running' AND c.starts_at <= $3 AND c.ends_at > $3) OR (c.status = 'scheduled' AND c.ends_at > $3))
ORDER BY cs.sku_id, c.starts_at, cs.campaign_id`, pq.Array(skuIDs), pq.Array(productIDs), now); err != nil {
		return nil, fmt.Errorf("storage: campaign prices: %w", mapErr(err))
	}
	out := make([]campaign.Price, len(rows))
	for i, r := range rows {
		out[i] = campaign.Price{CampaignID: r.CampaignID, SKUID: r.SKUID, ProductID: r.ProductID, Price: domain.Fen(r.Price),
			Left: r.Left, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Running: r.Running, PerShopperLimit: r.PerShopperLimit}
	}
	return out, nil
}

// ShopperTaken implements campaign.Store.
func (s Campaigns) ShopperTaken(ctx context.Context, shopperID int64, campaignIDs []int64) (map[int64]int, error) {
	var rows []struct {
		CampaignID int64 `db:"campaign_id"`
		Taken      int   `db:"taken"`
	}
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `
SELECT campaign_id, taken FROM campaign_shoppers WHERE shopper_id = $1 AND campaign_id = ANY($2)`,
		shopperID, pq.Array(campaignIDs)); err != nil {
		return nil, fmt.Errorf("storage: campaign shopper: %w", mapErr(err))
	}
	out := map[int64]int{}
	for _, r := range rows {
		out[r.CampaignID] = r.Taken
	}
	return out, nil
}

// Take holds qty campaign units of a SKU for an order: from the allotment
// (ErrSoldOut when fewer are left) and, with a limit, from the shopper's
// allowance (ErrLimitReached), each one conditional update; the campaign
// must still be running at at. Errors leave the transaction to be rolled
// back.
func (s Campaigns) Take(ctx context.Context, campaignID, skuID, orderID, shopperID int64, qty int, at time.Time) error {
	var limit int
	err := sqlx.GetContext(ctx, s.ext(), &limit, `
UPDATE campaign_skus cs SET taken = cs.taken + $3
FROM campaigns c
WHERE cs.campaign_id = $1 AND cs.sku_id = $2 AND c.id = cs.campaign_id AND cs.taken + $3 <= cs.allotment
  AND c.status = 'running' AND c.starts_at <= $4 AND c.ends_at > $4
RETURNING c.per_shopper_limit`, campaignID, skuID, qty, at)
	if err == sql.ErrNoRows {
		return campaign.ErrSoldOut
	}
	if err != nil {
		return fmt.Errorf("storage: take campaign units: %w", mapErr(err))
	}
	if shopperID > 0 {
		var n int
		err := sqlx.GetContext(ctx, s.ext(), &n, `
INSERT INTO campaign_shoppers AS s (campaign_id, shopper_id, taken) SELECT $1, $2, $3 WHERE $4 = 0 OR $3 <= $4
ON CONFLICT (campaign_id, shopper_id) DO UPDATE SET taken = s.taken + $3 WHERE $4 = 0 OR s.taken + $3 <= $4
RETURNING taken`, campaignID, shopperID, qty, limit)
		if err == sql.ErrNoRows {
			return campaign.ErrLimitReached
		}
		if err != nil {
			return fmt.Errorf("storage: take campaign units: %w", mapErr(err))
		}
	}
	_, err = s.ext().ExecContext(ctx, `
INSERT INTO campaign_order_units (campaign_id, order_id, sku_id, shopper_id, quantity, status)
VALUES ($1, $2, $3, NULLIF($4, 0), $5, 'held')`, campaignID, orderID, skuID, shopperID, qty)
	if err != nil {
		return fmt.Errorf("storage: take campaign units: %w", mapErr(err))
	}
	return nil
}

// Sell marks the order's held campaign units sold (it was paid).
func (s Campaigns) Sell(ctx context.Context, orderID int64) error {
	_, err := s.ext().ExecContext(ctx, `UPDATE campaign_order_units SET status = 'sold' WHERE order_id = $1 AND status = 'held'`, orderID)
	if err != nil {
		return fmt.Errorf("storage: sell campaign units: %w", mapErr(err))
	}
	return nil
}

// Release gives the order's held campaign units back to their allotments
// and shoppers (it was cancelled).
func (s Campaigns) Release(ctx context.Context, orderID int64) error {
	_, err := s.ext().ExecContext(ctx, `
WITH u AS (UPDATE campaign_order_units SET status = 'released' WHERE order_id = $1 AND status = 'held'
           RETURNING campaign_id, sku_id, shopper_id, quantity),
     k AS (UPDATE campaign_skus cs SET taken = cs.taken - x.q
           FROM (SELECT campaign_id, sku_id, sum(quantity) q FROM u GROUP BY 1, 2) x
           WHERE cs.campaign_id = x.campaign_id AND cs.sku_id = x.sku_id RETURNING 1)
UPDATE campaign_shoppers s SET taken = s.taken - x.q
FROM (SELECT campaign_id, shopper_id, sum(quantity) q FROM u WHERE shopper_id IS NOT NULL GROUP BY 1, 2) x
WHERE s.campaign_id = x.campaign_id AND s.shopper_id = x.shopper_id`, orderID)
	if err != nil {
		return fmt.Errorf("storage: release campaign units: %w", mapErr(err))
	}
	return nil
}
