package storage

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/store"
)

// The demo data (`yutang demo`) goes through the domain services where they
// have a use case for it; what follows is the rest: seed rows that no use
// case writes, and the lookups that let each loader skip what is loaded.

const demoStoresSQL = `
INSERT INTO stores (code, name, address, latitude, longitude, opening_hours, phone) VALUES
 ('SH-XUHUI', '徐汇旗舰店', '上海市徐汇区淮海中路999号', 31.2122, 121.4450, '10:00-22:00', '021-64000001'),
 ('SH-JINGAN', '静安嘉里店', '上海市静安区南京西路1515号', 31.2243, 121.4487, '10:00-22:00', '021-62000002')
ON CONFLICT (code) DO NOTHING`

// LoadDemoStores creates the demo's two stores, SH-XUHUI and SH-JINGAN,
// unless their codes exist. They are seed data: no audit entries.
func LoadDemoStores(ctx context.Context, q sqlx.ExecerContext) error {
	if _, err := q.ExecContext(ctx, demoStoresSQL); err != nil {
		return fmt.Errorf("storage: demo stores: %w", mapErr(err))
	}
	return nil
}

// StoreIDByCode returns the id of the store with code (store.ErrNotFound).
func StoreIDByCode(ctx context.Context, q sqlx.QueryerContext, code string) (int64, error) {
	var id int64
	if err := sqlx.GetContext(ctx, q, &id, `SELECT id FROM stores WHERE code = $1`, code); err != nil {
		return 0, mapErrNotFound(err, store.ErrNotFound)
	}
	return id, nil
}

// StaffIDByUsername returns the id of the staff member with username
// (identity.ErrStaffNotFound).
func StaffIDByUsername(ctx context.Context, q sqlx.QueryerContext, username string) (int64, error) {
	var id int64
	if err := sqlx.GetContext(ctx, q, &id, `SELECT id FROM staff WHERE username = $1`, username); err != nil {
		return 0, mapErrNotFound(err, identity.ErrStaffNotFound)
	}
	return id, nil
}

// HasSKUCodePrefix reports whether some SKU's code is prefix-…, which marks
// a demo product as loaded.
func HasSKUCodePrefix(ctx context.Context, q sqlx.QueryerContext, prefix string) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM skus WHERE code LIKE $1 || '-%'`, prefix); err != nil {
		return false, fmt.Errorf("storage: skus with code prefix %s: %w", prefix, mapErr(err))
	}
	return n > 0, nil
}

// HasPostNamed reports whether a post touchpoint is named name.
func HasPostNamed(ctx context.Context, q sqlx.QueryerContext, name string) (bool, error) {
	var exists bool
	err := sqlx.GetContext(ctx, q, &exists, `SELECT EXISTS (SELECT 1 FROM touchpoints WHERE kind = 'post' AND name = $1)`, name)
	if err != nil {
		return false, fmt.Errorf("storage: post named %s: %w", name, mapErr(err))
	}
	return exists, nil
}
