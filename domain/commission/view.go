package commission

import (
	"context"
	"errors"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// ErrNotActiveKOC refuses the KOC's own share-link and post views to anyone
// who is not an active KOC.
var ErrNotActiveKOC = domain.E(domain.KindForbidden, "koc_not_active", "Only an active KOC can see their share links and performance.")

// LinkStats is one of a KOC's share links with its numbers for a period:
// touches and unique visitors through the link, and the orders paid in the
// period that credited a touch of the link under the order's default model,
// with the amount credited to those touches.
type LinkStats struct {
	Code      string
	Path      string
	PostID    int64
	PostName  string
	ProductID int64
	CreatedAt time.Time
	Touches   int64
	Visitors  int64
	Orders    int64
	Credited  domain.Fen
}

// PostStats is a KOC's numbers for one post over a period (through all
// their links to it); Earned is the KOC's commission on the orders counted.
type PostStats struct {
	PostID   int64
	Name     string
	Touches  int64
	Visitors int64
	Orders   int64
	Credited domain.Fen
	Earned   domain.Fen
}

// ViewStore reads a KOC's per-link and per-post numbers. Attribution's
// rollups are per touchpoint, so they cannot split a KOC's numbers by link
// or by post: these read the touches and the stored attributions.
type ViewStore interface {
	KOC(ctx context.Context, shopperID int64, forUpdate bool) (KOC, error)
	LinkStats(ctx context.Context, kocID int64, from, to time.Time, page domain.Page) ([]LinkStats, string, error)
	PostStats(ctx context.Context, kocID int64, from, to time.Time) ([]PostStats, error)
}

// activeKOC is the KOC kocID when active, else ErrNotActiveKOC.
func activeKOC(ctx context.Context, st ViewStore, kocID int64) (KOC, error) {
	k, err := st.KOC(ctx, kocID, false)
	if errors.Is(err, ErrNotKOC) || err == nil && k.Status != StatusActive {
		return KOC{}, ErrNotActiveKOC
	}
	return k, err
}

// LinkStats lists an active KOC's share links, newest first, each with its
// numbers for from … to (Asia/Shanghai days, both included; default the last 30 days).
func (s *Service) LinkStats(ctx context.Context, kocID int64, from, to time.Time, page domain.Page) ([]LinkStats, string, error) {
	if _, err := activeKOC(ctx, s.Store, kocID); err != nil {
		return nil, "", err
	}
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, "", err
	}
	return s.Store.LinkStats(ctx, kocID, from, to, page)
}

// PostStats is an active KOC's numbers by post for from … to (Asia/Shanghai
// days, both included; default the last 30 days), most credited first.
func (s *Service) PostStats(ctx context.Context, kocID int64, from, to time.Time) ([]PostStats, error) {
	if _, err := activeKOC(ctx, s.Store, kocID); err != nil {
		return nil, err
	}
	from, to, err := s.period(from, to)
	if err != nil {
		return nil, err
	}
	return s.Store.PostStats(ctx, kocID, from, to)
}

// period defaults and checks a view's days as the attribution reports do.
func (s *Service) period(from, to time.Time) (time.Time, time.Time, error) {
	if to.IsZero() {
		to = s.now()
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -29)
	}
	from, to = attribution.Day(from), attribution.Day(to)
	switch {
	case to.Before(from):
		return from, to, domain.Invalid(domain.FieldError{Field: "to", Code: "gtefield", Message: "must not be before from"})
	case to.Sub(from) > attribution.MaxReportDays*24*time.Hour:
		return from, to, domain.Invalid(domain.FieldError{Field: "from", Code: "range", Message: "the period is at most 366 days"})
	}
	return from, to, nil
}
