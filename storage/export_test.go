package storage

import (
	"context"

	"github.com/yutang/yutang/domain/attribution"
)

// DistinctStats answers q as a closed period not folded into any snapshot
// is: distinct counts over the per-visitor and per-buyer rollups (the
// reference the faster paths are compared with).
func (a Attribution) DistinctStats(ctx context.Context, q attribution.StatsQuery) ([]attribution.TouchpointStats, bool, error) {
	return a.dimensionStats(ctx, closedStatsSQL, q)
}
