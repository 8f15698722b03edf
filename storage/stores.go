package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/store"
)

// Stores implements store.Storage (db.Stores(), tx.Stores()).
type Stores struct{ scope }

// InTx runs fn in a transaction (or in the current one).
func (s Stores) InTx(ctx context.Context, fn func(tx store.Storage) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(tx.Stores()) })
}

// Audit records an admin write in the current transaction.
func (s Stores) Audit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, s.ext(), e)
}

type storeRow struct {
	ID           int64           `db:"id"`
	Code         string          `db:"code"`
	Name         string          `db:"name"`
	Address      string          `db:"address"`
	Latitude     sql.NullFloat64 `db:"latitude"`
	Longitude    sql.NullFloat64 `db:"longitude"`
	OpeningHours string          `db:"opening_hours"`
	Phone        string          `db:"phone"`
	Status       string          `db:"status"`
	CreatedAt    time.Time       `db:"created_at"`
	UpdatedAt    time.Time       `db:"updated_at"`
}

func float64Ptr(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	v := n.Float64
	return &v
}

func (r storeRow) toDomain() store.Store {
	return store.Store{ID: r.ID, Code: r.Code, Name: r.Name, Address: r.Address, Latitude: float64Ptr(r.Latitude),
		Longitude: float64Ptr(r.Longitude), OpeningHours: r.OpeningHours, Phone: r.Phone, Status: store.Status(r.Status),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const storeCols = `id, code, name, address, latitude, longitude, opening_hours, phone, status, created_at, updated_at`

func (s Stores) List(ctx context.Context, page domain.Page) ([]store.Store, string, error) {
	limit := domain.BoundLimit(page.Limit)
	after, err := idAfter(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []storeRow
	if err := sqlx.SelectContext(ctx, s.ext(), &rows, `SELECT `+storeCols+` FROM stores WHERE id > $1 ORDER BY id LIMIT $2`, after, limit+1); err != nil {
		return nil, "", fmt.Errorf("storage: list stores: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]store.Store, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, next, nil
}

func (s Stores) Get(ctx context.Context, id int64, forUpdate bool) (store.Store, error) {
	q := `SELECT ` + storeCols + ` FROM stores WHERE id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var r storeRow
	if err := sqlx.GetContext(ctx, s.ext(), &r, q, id); err != nil {
		return store.Store{}, mapErrNotFound(err, store.ErrNotFound)
	}
	return r.toDomain(), nil
}

func nullFloat64(p *float64) sql.NullFloat64 {
	if p == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *p, Valid: true}
}

func (s Stores) Create(ctx context.Context, st store.Store, at time.Time) (store.Store, error) {
	var r storeRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `
INSERT INTO stores (code, name, address, latitude, longitude, opening_hours, phone, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+storeCols,
		st.Code, st.Name, st.Address, nullFloat64(st.Latitude), nullFloat64(st.Longitude), st.OpeningHours, st.Phone, string(st.Status), at)
	if isUnique(err, "") {
		return store.Store{}, store.ErrCodeTaken
	}
	if err != nil {
		return store.Store{}, fmt.Errorf("storage: create store: %w", mapErr(err))
	}
	return r.toDomain(), nil
}

func (s Stores) Update(ctx context.Context, st store.Store, at time.Time) (store.Store, error) {
	var r storeRow
	err := sqlx.GetContext(ctx, s.ext(), &r, `
UPDATE stores SET name = $2, address = $3, latitude = $4, longitude = $5, opening_hours = $6, phone = $7,
    status = $8, updated_at = $9
WHERE id = $1 RETURNING `+storeCols,
		st.ID, st.Name, st.Address, nullFloat64(st.Latitude), nullFloat64(st.Longitude), st.OpeningHours, st.Phone, string(st.Status), at)
	if err != nil {
		return store.Store{}, mapErrNotFound(err, store.ErrNotFound)
	}
	return r.toDomain(), nil
}

func (s Stores) Delete(ctx context.Context, id int64) error {
	res, err := s.ext().ExecContext(ctx, `DELETE FROM stores WHERE id = $1`, id)
	if isFKViolation(err) {
		return store.ErrInUse
	}
	if err != nil {
		return fmt.Errorf("storage: delete store: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}
