package coupon

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
)

// Settings are the brand's coupon rules.
type Settings struct {
	// OnePerKind lets a shopper use several coupons on one order, at most
	// one of each kind (满减, 折扣, 无门槛); off, one coupon per order.
	OnePerKind bool
}

// SettingsStore keeps the coupon settings (the same database as Store).
type SettingsStore interface {
	Settings(ctx context.Context) (Settings, error)
	PutSettings(ctx context.Context, n Settings, at time.Time) error
}

// GetSettings returns the coupon rules.
func (s *Service) GetSettings(ctx context.Context) (Settings, error) {
	set, err := s.Store.Settings(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("coupon: settings: %w", err)
	}
	return set, nil
}

// PutSettings replaces the coupon rules, audited. Orders already placed
// keep the coupons they were priced with.
func (s *Service) PutSettings(ctx context.Context, by domain.Actor, reqID string, n Settings) (Settings, error) {
	at := s.now()
	err := s.Store.InTx(ctx, func(tx Store) error {
		old, err := tx.Settings(ctx)
		if err != nil {
			return err
		}
		if err := tx.PutSettings(ctx, n, at); err != nil {
			return err
		}
		return tx.Audit(ctx, domain.AuditEntry{Actor: by, Action: "coupon_settings.update", Entity: "coupon_settings",
			EntityID: "1", Before: map[string]any{"one_per_kind": old.OnePerKind},
			After: map[string]any{"one_per_kind": n.OnePerKind}, RequestID: reqID, At: at})
	})
	if err != nil {
		return Settings{}, fmt.Errorf("coupon: settings: %w", err)
	}
	return n, nil
}
