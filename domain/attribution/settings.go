package attribution

import (
	"context"
	"fmt"
	"time"

	"github.com/yutang/yutang/domain"
)

// --- settings ---

// Settings returns the brand's settings, defaults filled in.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	set, err := s.Store.Settings(ctx)
	if err != nil {
		return Settings{}, fmt.Errorf("attribution: settings: %w", err)
	}
	return set.WithDefaults(), nil
}

// UpdateSettings changes the settings (audited). Zero fields keep their
// current value.
func (s *Service) UpdateSettings(ctx context.Context, by domain.Actor, reqID string, in Settings) (Settings, error) {
	if err := in.Validate(); err != nil {
		return Settings{}, err
	}
	var out Settings
	err := s.Store.InTx(ctx, func(st Store) error {
		before, err := st.Settings(ctx)
		if err != nil {
			return err
		}
		out = before
		if in.Model != "" {
			out.Model = in.Model
		}
		if in.Lookback != 0 {
			out.Lookback = in.Lookback
		}
		if in.HalfLife != 0 {
			out.HalfLife = in.HalfLife
		}
		out = out.WithDefaults()
		if err := st.SaveSettings(ctx, out); err != nil {
			return err
		}
		return st.WriteAudit(ctx, domain.AuditEntry{Actor: by, Action: "attribution_settings.update", Entity: "attribution_settings",
			Before: settingsAudit(before), After: settingsAudit(out), RequestID: reqID, At: s.now()})
	})
	if err != nil {
		return Settings{}, fmt.Errorf("attribution: update settings: %w", err)
	}
	return out, nil
}

func settingsAudit(s Settings) map[string]any {
	return map[string]any{"model": s.Model, "lookback_seconds": int64(s.Lookback / time.Second),
		"half_life_seconds": int64(s.HalfLife / time.Second)}
}
