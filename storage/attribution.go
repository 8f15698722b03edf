package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// Attribution implements attribution.Store and attribution.ReportStore
// (db.Attribution(), tx.Attribution()).
type Attribution struct{ scope }

// InTx runs fn in a transaction (in the current one when a is in one).
func (a Attribution) InTx(ctx context.Context, fn func(attribution.Store) error) error {
	return a.inTx(ctx, func(tx *Tx) error { return fn(tx.Attribution()) })
}

func (a Attribution) WriteAudit(ctx context.Context, e domain.AuditEntry) error {
	return WriteAudit(ctx, a.ext(), e)
}

func attrNullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// --- settings ---

// attrSettingsRow is attribution_settings' row (also read with a paid
// order: paidOrderSQL).
type attrSettingsRow struct {
	Model    string `db:"model"`
	Lookback int64  `db:"lookback_seconds"`
	HalfLife int64  `db:"half_life_seconds"`
}

func (r attrSettingsRow) settings() attribution.Settings {
	return attribution.Settings{Model: attribution.Model(r.Model), Lookback: time.Duration(r.Lookback) * time.Second,
		HalfLife: time.Duration(r.HalfLife) * time.Second}
}

func (a Attribution) Settings(ctx context.Context) (attribution.Settings, error) {
	var r attrSettingsRow
	err := sqlx.GetContext(ctx, a.ext(), &r, `SELECT model, lookback_seconds, half_life_seconds FROM attribution_settings`)
	if err != nil {
		return attribution.Settings{}, fmt.Errorf("storage: attribution settings: %w", mapErr(err))
	}
	return r.settings(), nil
}

func (a Attribution) SaveSettings(ctx context.Context, s attribution.Settings) error {
	_, err := a.ext().ExecContext(ctx, `
UPDATE attribution_settings SET model = $1, lookback_seconds = $2, half_life_seconds = $3, updated_at = now()`,
		string(s.Model), int64(s.Lookback/time.Second), int64(s.HalfLife/time.Second))
	if err != nil {
		return fmt.Errorf("storage: save attribution settings: %w", mapErr(err))
	}
	return nil
}
