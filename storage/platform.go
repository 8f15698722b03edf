package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/platform"
)

// Platform implements platform.Store (db.Platform(), tx.Platform()).
type Platform struct{ scope }

var _ platform.Store = Platform{}

func (d *DB) Platform() Platform { return Platform{d.scope()} }
func (t *Tx) Platform() Platform { return Platform{t.scope()} }

const platformSubjectSQL = `
SELECT o.id, o.order_no, o.shopper_id, COALESCE(s.openid, '') AS openid, o.fulfillment,
       COALESCE(p.transaction_id, '') AS transaction_id, COALESCE(p.payer_openid, '') AS payer_openid,
       COALESCE(a.out_trade_no, '') AS out_trade_no,
       COALESCE(o.address->>'phone', '') AS receiver_phone,
       COALESCE(st.name, '') AS store_name,
       COALESCE((SELECT string_agg(i.title || '*' || i.quantity, ', ' ORDER BY i.line_no) FROM order_items i WHERE i.order_id = o.id), '') AS item_desc
FROM orders o
LEFT JOIN shoppers s ON s.id = o.shopper_id
LEFT JOIN payments p ON p.order_id = o.id AND p.outcome = 'applied'
LEFT JOIN payment_attempts a ON a.id = p.attempt_id
LEFT JOIN stores st ON st.id = COALESCE(o.pickup_store_id, o.store_id)
WHERE o.id = $1`

// Subject implements platform.Store.
func (s Platform) Subject(ctx context.Context, orderID int64) (platform.Subject, error) {
	var r struct {
		ID            int64         `db:"id"`
		Number        string        `db:"order_no"`
		ShopperID     sql.NullInt64 `db:"shopper_id"`
		OpenID        string        `db:"openid"`
		Fulfillment   string        `db:"fulfillment"`
		TransactionID string        `db:"transaction_id"`
		PayerOpenID   string        `db:"payer_openid"`
		OutTradeNo    string        `db:"out_trade_no"`
		ReceiverPhone string        `db:"receiver_phone"`
		StoreName     string        `db:"store_name"`
		ItemDesc      string        `db:"item_desc"`
	}
	if err := sqlx.GetContext(ctx, s.ext(), &r, platformSubjectSQL, orderID); err != nil {
		return platform.Subject{}, mapErrNotFound(err, order.ErrOrderNotFound)
	}
	payer := r.PayerOpenID
	if payer == "" && r.TransactionID != "" {
		payer = r.OpenID
	}
	return platform.Subject{OrderID: r.ID, OrderNumber: r.Number, ShopperID: r.ShopperID.Int64, OpenID: r.OpenID,
		Fulfillment: order.FulfillmentType(r.Fulfillment), TransactionID: r.TransactionID, OutTradeNo: r.OutTradeNo,
		PayerOpenID: payer, ItemDesc: r.ItemDesc, ReceiverPhone: r.ReceiverPhone, StoreName: r.StoreName}, nil
}

// EnqueueUpload implements platform.Store: one upload per order (a second
// moment that calls for one changes nothing).
func (s Platform) EnqueueUpload(ctx context.Context, u platform.Upload) error {
	sh := u.Shipment
	_, err := s.ext().ExecContext(ctx, `
INSERT INTO shipping_uploads (order_id, state, logistics_type, transaction_id, mchid, out_trade_no, payer_openid,
    carrier, tracking_no, item_desc, receiver_contact, last_error, next_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
ON CONFLICT (order_id) DO NOTHING`, u.OrderID, u.State, int(sh.Logistics), sh.TransactionID, sh.MchID, sh.OutTradeNo,
		sh.PayerOpenID, sh.Carrier, sh.TrackingNo, sh.ItemDesc, sh.ReceiverContact, u.LastError, u.NextAt)
	if err != nil {
		return fmt.Errorf("storage: enqueue shipping upload: %w", mapErr(err))
	}
	return nil
}

// TakeAcceptance implements platform.Store.
func (s Platform) TakeAcceptance(ctx context.Context, shopperID int64, templateID string, at time.Time) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.ext(), &id, `
UPDATE message_acceptances SET used_at = $3 WHERE id = (
    SELECT id FROM message_acceptances WHERE shopper_id = $1 AND template_id = $2 AND used_at IS NULL
    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id`, shopperID, templateID, at)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("storage: take acceptance: %w", mapErr(err))
	}
	return id, nil
}

// EnqueueMessage implements platform.Store.
func (s Platform) EnqueueMessage(ctx context.Context, m platform.Message) error {
	data, _ := json.Marshal(m.Data)
	_, err := s.ext().ExecContext(ctx, `
INSERT INTO weapp_messages (acceptance_id, order_id, shopper_id, openid, kind, template_id, page, data, state,
    next_at, created_at, updated_at)
VALUES ($1, NULLIF($2, 0), $3, $4, $5, $6, $7, $8, 'pending', $9, $9, $9)`,
		m.AcceptanceID, m.OrderID, m.ShopperID, m.OpenID, m.Kind, m.TemplateID, m.Page, data, m.CreatedAt)
	if err != nil {
		return fmt.Errorf("storage: enqueue message: %w", mapErr(err))
	}
	return nil
}

// RecordAcceptances implements platform.Store: a report is recorded once
// (by shopper, report id and template).
func (s Platform) RecordAcceptances(ctx context.Context, shopperID int64, reportID string, acc map[string]string, at time.Time) (int, error) {
	n := 0
	for tid, kind := range acc {
		res, err := s.ext().ExecContext(ctx, `
INSERT INTO message_acceptances (shopper_id, kind, template_id, report_id, accepted_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (shopper_id, report_id, template_id) DO NOTHING`, shopperID, kind, tid, reportID, at)
		if err != nil {
			return n, fmt.Errorf("storage: record acceptances: %w", mapErr(err))
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

type uploadRow struct {
	ID              int64        `db:"id"`
	OrderID         int64        `db:"order_id"`
	OrderNo         string       `db:"order_no"`
	State           string       `db:"state"`
	LogisticsType   int          `db:"logistics_type"`
	TransactionID   string       `db:"transaction_id"`
	MchID           string       `db:"mchid"`
	OutTradeNo      string       `db:"out_trade_no"`
	PayerOpenID     string       `db:"payer_openid"`
	Carrier         string       `db:"carrier"`
	TrackingNo      string       `db:"tracking_no"`
	ItemDesc        string       `db:"item_desc"`
	ReceiverContact string       `db:"receiver_contact"`
	Attempts        int          `db:"attempts"`
	NextAt          time.Time    `db:"next_at"`
	LastError       string       `db:"last_error"`
	UploadedAt      sql.NullTime `db:"uploaded_at"`
	CreatedAt       time.Time    `db:"created_at"`
}

const uploadCols = `u.id, u.order_id, o.order_no, u.state, u.logistics_type, u.transaction_id, u.mchid, u.out_trade_no,
    u.payer_openid, u.carrier, u.tracking_no, u.item_desc, u.receiver_contact, u.attempts, u.next_at, u.last_error,
    u.uploaded_at, u.created_at`

func (r uploadRow) upload() platform.Upload {
	return platform.Upload{ID: r.ID, OrderID: r.OrderID, OrderNumber: r.OrderNo, State: r.State, Attempts: r.Attempts,
		NextAt: r.NextAt, LastError: r.LastError, UploadedAt: r.UploadedAt.Time, CreatedAt: r.CreatedAt,
		Shipment: platform.Shipment{TransactionID: r.TransactionID, MchID: r.MchID, OutTradeNo: r.OutTradeNo,
			PayerOpenID: r.PayerOpenID, Logistics: platform.LogisticsType(r.LogisticsType), Carrier: r.Carrier,
			TrackingNo: r.TrackingNo, ItemDesc: r.ItemDesc, ReceiverContact: r.ReceiverContact}}
}

// LeaseUploads implements platform.Store: due pending uploads, each leased
// for lease so that no other worker takes it meanwhile.
func (s Platform) LeaseUploads(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]platform.Upload, error) {
	var rows []uploadRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
WITH due AS (
    SELECT id FROM shipping_uploads WHERE state = 'pending' AND next_at <= $1 AND lease_until < $1
    ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE shipping_uploads u SET lease_until = $2 FROM due WHERE u.id = due.id RETURNING u.*
)
SELECT `+uploadCols+` FROM leased u JOIN orders o ON o.id = u.order_id ORDER BY u.next_at`, now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: lease shipping uploads: %w", mapErr(err))
	}
	out := make([]platform.Upload, len(rows))
	for i, r := range rows {
		out[i] = r.upload()
	}
	return out, nil
}

// FinishUpload implements platform.Store.
func (s Platform) FinishUpload(ctx context.Context, u platform.Upload) error {
	_, err := s.ext().ExecContext(ctx, `
UPDATE shipping_uploads SET state = $2, attempts = $3, next_at = $4, last_error = $5, uploaded_at = $6,
    lease_until = '-infinity', updated_at = now()
WHERE id = $1`, u.ID, u.State, u.Attempts, u.NextAt, u.LastError, optTime(u.UploadedAt))
	if err != nil {
		return fmt.Errorf("storage: finish shipping upload: %w", mapErr(err))
	}
	return nil
}

// UploadOf implements platform.Store.
func (s Platform) UploadOf(ctx context.Context, orderNo string) (platform.Upload, error) {
	var r uploadRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `SELECT `+uploadCols+` FROM shipping_uploads u JOIN orders o ON o.id = u.order_id
WHERE o.order_no = $1`, orderNo)
	if err != nil {
		return platform.Upload{}, mapErrNotFound(err, platform.ErrUploadNotFound)
	}
	return r.upload(), nil
}

// RetryUpload implements platform.Store.
func (s Platform) RetryUpload(ctx context.Context, orderNo string, now time.Time, e domain.AuditEntry) (platform.Upload, error) {
	var out platform.Upload
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.x.ExecContext(ctx, `
UPDATE shipping_uploads u SET state = 'pending', attempts = 0, next_at = $2, updated_at = now()
FROM orders o WHERE o.id = u.order_id AND o.order_no = $1 AND u.state = 'failed'`, orderNo, now)
		if err != nil {
			return mapErr(err)
		}
		u, err := tx.Platform().UploadOf(ctx, orderNo)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return platform.ErrUploadNotFailed
		}
		out = u
		return WriteAudit(ctx, tx.x, e)
	})
	return out, err
}

type messageRow struct {
	ID           int64         `db:"id"`
	OrderID      sql.NullInt64 `db:"order_id"`
	ShopperID    int64         `db:"shopper_id"`
	OpenID       string        `db:"openid"`
	Kind         string        `db:"kind"`
	TemplateID   string        `db:"template_id"`
	Page         string        `db:"page"`
	Data         []byte        `db:"data"`
	AcceptanceID int64         `db:"acceptance_id"`
	State        string        `db:"state"`
	Attempts     int           `db:"attempts"`
	LastError    string        `db:"last_error"`
	CreatedAt    time.Time     `db:"created_at"`
}

// LeaseMessages implements platform.Store.
func (s Platform) LeaseMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]platform.Message, error) {
	var rows []messageRow
	err := sqlx.SelectContext(ctx, s.ext(), &rows, `
WITH due AS (
    SELECT id FROM weapp_messages WHERE state = 'pending' AND next_at <= $1 AND lease_until < $1
    ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED
)
UPDATE weapp_messages m SET lease_until = $2 FROM due WHERE m.id = due.id
RETURNING m.id, m.order_id, m.shopper_id, m.openid, m.kind, m.template_id, m.page, m.data, m.acceptance_id,
    m.state, m.attempts, m.last_error, m.created_at`, now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("storage: lease messages: %w", mapErr(err))
	}
	out := make([]platform.Message, len(rows))
	for i, r := range rows {
		m := platform.Message{ID: r.ID, OrderID: r.OrderID.Int64, ShopperID: r.ShopperID, OpenID: r.OpenID, Kind: r.Kind,
			TemplateID: r.TemplateID, Page: r.Page, AcceptanceID: r.AcceptanceID, State: r.State, Attempts: r.Attempts,
			LastError: r.LastError, CreatedAt: r.CreatedAt}
		if err := json.Unmarshal(r.Data, &m.Data); err != nil {
			return nil, fmt.Errorf("storage: lease messages: data: %w", err)
		}
		out[i] = m
	}
	return out, nil
}

// FinishMessage implements platform.Store.
func (s Platform) FinishMessage(ctx context.Context, m platform.Message) error {
	_, err := s.ext().ExecContext(ctx, `
UPDATE weapp_messages SET state = $2, attempts = $3, last_error = $4, sent_at = $5, next_at = $6,
    lease_until = '-infinity', updated_at = now()
WHERE id = $1`, m.ID, m.State, m.Attempts, m.LastError, optTime(m.SentAt), m.NextAt)
	if err != nil {
		return fmt.Errorf("storage: finish message: %w", mapErr(err))
	}
	return nil
}

// OrderByPayment implements platform.Store: the order a WeChat Pay
// transaction (or payment attempt's out_trade_no) paid.
func (s Platform) OrderByPayment(ctx context.Context, transactionID, outTradeNo string) (string, error) {
	var no string
	err := sqlx.GetContext(ctx, s.ext(), &no, `
SELECT o.order_no FROM payment_attempts a JOIN orders o ON o.id = a.order_id
WHERE ($1 <> '' AND a.transaction_id = $1) OR ($2 <> '' AND a.out_trade_no = $2)
LIMIT 1`, transactionID, outTradeNo)
	return no, mapErrNotFound(err, order.ErrOrderNotFound)
}
