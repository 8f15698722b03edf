package storage

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/migrations"
)

// MigrateDownTo undoes the migrations after version (their Down sections),
// for tests of what a migration does to data written before it.
func MigrateDownTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// DistinctStats answers q as a closed period not folded into any snapshot
// is: distinct counts over the per-visitor and per-buyer rollups (the
// reference the faster paths are compared with).
func (a Attribution) DistinctStats(ctx context.Context, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	return a.dimensionStats(ctx, closedStatsSQL, q)
}

// closedStatsSQL answers any period from the per-visitor and per-buyer
// rollups, counting distinct visitors and buyers (a row per visitor-day):
// the reference the gap rollups' answers are compared with.
const closedStatsSQL = `
WITH t AS (
    SELECT touchpoint_id, sum(touches) AS touches, count(DISTINCT visitor) AS visitors
    FROM touch_daily WHERE kind = $1 AND day BETWEEN $3::date AND $4::date
    GROUP BY touchpoint_id
), b AS (
    SELECT touchpoint_id, shopper_id, sum(orders) AS orders, sum(new_customer_orders) AS nco,
           sum(credited_fen) AS credited, sum(refunded_fen) AS refunded
    FROM attribution_daily WHERE model = $2 AND kind = $1 AND day BETWEEN $3::date AND $4::date
    GROUP BY touchpoint_id, shopper_id
), o AS (
    SELECT touchpoint_id, sum(orders) AS orders, count(*) FILTER (WHERE orders > 0) AS buyers,
           count(*) FILTER (WHERE orders >= 2) AS repeat_buyers, sum(nco) AS nco,
           sum(credited) AS credited, sum(refunded) AS refunded
    FROM b GROUP BY touchpoint_id
)`

// TopOpenStats answers q from topOpenStatsSQL alone: no row where it does
// not apply (and openStatsSQL answers instead).
func (a Attribution) TopOpenStats(ctx context.Context, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	return a.dimensionStats(ctx, topOpenStatsSQL, q)
}

// TopGapStats answers q from topGapStatsSQL alone, as TopOpenStats.
func (a Attribution) TopGapStats(ctx context.Context, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	return a.dimensionStats(ctx, topGapStatsSQL, q)
}
