package attribution

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/yutang/yutang/domain"
)

// ReportQuery asks for a report over the Asia/Shanghai days From … To (both
// included) for one dimension under one model ("" = the default model).
type ReportQuery struct {
	Dimension TouchpointKind
	Model     Model
	From, To  time.Time // days (any time of the day; the Shanghai date counts)
	// Cursor and Limit page the touchpoints of Report (Limit 0: the default
	// page; All: every touchpoint, for an export). Daily and TopProducts
	// ignore them.
	Cursor string
	Limit  int
	All    bool
}

// StatsQuery asks a ReportStore for one page of a dimension's touchpoints.
type StatsQuery struct {
	Kind     TouchpointKind
	Model    Model
	From, To time.Time
	// Open: the period runs through today, so nothing is later than To and
	// the store may answer distinct counts from its latest-day rollups.
	Open          bool
	Offset, Limit int // Limit 0: every row
}

// TouchpointStats are the raw sums a report is made of, for one touchpoint
// (or one day).
type TouchpointStats struct {
	TouchpointID      int64
	Name              string
	Day               time.Time // daily series only
	Touches           int64
	Visitors          int64
	Orders            int64 // orders with a positive credit to the touchpoint
	Buyers            int64
	RepeatBuyers      int64 // buyers with at least two such orders in the period
	NewCustomerOrders int64
	Credited          domain.Fen
	Refunded          domain.Fen // reversed credits of refunded lines (by the order's day)
}

// ReportRow is one touchpoint's line of a report.
type ReportRow struct {
	TouchpointStats
	Net              domain.Fen
	Conversion       float64 // buyers / unique visitors
	RepeatBuyerRate  float64 // buyers with ≥ 2 orders / buyers
	AverageOrderFen  domain.Fen
	TouchpointExists bool
}

// Report is a dimension's report. Paid is the paid goods amount of every
// order paid in the period; Credited the sum credited to the dimension's
// touchpoints; Direct the rest (orders with no touch, or whose touches
// carry no touchpoint of this dimension): Credited + Direct = Paid exactly.
type Report struct {
	Query       ReportQuery
	Rows        []ReportRow
	Paid        domain.Fen
	Orders      int64
	Credited    domain.Fen
	Direct      domain.Fen
	DirectCount int64  // orders with no candidate touch at all
	NextCursor  string // "" on the last page
}

// ProductStats is one product's credited amount under a touchpoint.
type ProductStats struct {
	ProductID int64
	Title     string
	Orders    int64
	Credited  domain.Fen
	Refunded  domain.Fen
}

// ReportStore reads the rollups.
type ReportStore interface {
	Settings(ctx context.Context) (Settings, error)
	DimensionStats(ctx context.Context, q StatsQuery) (rows []TouchpointStats, more bool, err error)
	PeriodTotals(ctx context.Context, kind TouchpointKind, model Model, from, to time.Time) (paid domain.Fen, orders, direct int64, credited domain.Fen, err error)
	DailyStats(ctx context.Context, kind TouchpointKind, id int64, model Model, from, to time.Time) ([]TouchpointStats, error)
	TopProducts(ctx context.Context, kind TouchpointKind, id int64, model Model, from, to time.Time, limit int) ([]ProductStats, error)
}

// MaxReportDays bounds a report's period.
const MaxReportDays = 366

func (s *Service) normalize(ctx context.Context, q *ReportQuery) error {
	var fe []domain.FieldError
	if !q.Dimension.Valid() {
		fe = append(fe, domain.FieldError{Field: "dimension", Code: "oneof", Message: "must be one of post, koc, group, store, clerk"})
	}
	if q.Model != "" && !q.Model.Valid() {
		fe = append(fe, domain.FieldError{Field: "model", Code: "oneof", Message: "must be one of last_touch, first_touch, linear, time_decay, position_based"})
	}
	now := s.now().In(domain.Shanghai)
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.AddDate(0, 0, -29)
	}
	q.From, q.To = Day(q.From), Day(q.To)
	if q.To.Before(q.From) {
		fe = append(fe, domain.FieldError{Field: "to", Code: "gtefield", Message: "must not be before from"})
	} else if q.To.Sub(q.From) > MaxReportDays*24*time.Hour {
		fe = append(fe, domain.FieldError{Field: "from", Code: "range", Message: "the period is at most 366 days"})
	}
	if len(fe) > 0 {
		return domain.Invalid(fe...)
	}
	if q.Model == "" {
		set, err := s.Reports.Settings(ctx)
		if err != nil {
			return err
		}
		q.Model = set.WithDefaults().Model
	}
	return nil
}

// closeMargin covers the clocks of several servers and the payments in
// flight at midnight (an order is attributed on the day it is applied).
const closeMargin = 10 * time.Minute

// ClosedThrough is the latest day whose touches and orders can no longer
// change at now (but for refunds, which move only refunded amounts): the
// last touch of day D may arrive until D+2 00:00, so D is closed from
// D+2 00:10 on. Reports fold closed days into rollups that are never
// revised (the gap rollups and the month snapshots).
func ClosedThrough(now time.Time) time.Time {
	return Day(now.Add(-TrackPast-closeMargin)).AddDate(0, 0, -1)
}

// Day is t's Asia/Shanghai date at midnight there.
func Day(t time.Time) time.Time {
	y, m, d := t.In(domain.Shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, domain.Shanghai)
}

// Report answers for every touchpoint of a dimension over a period.
func (s *Service) Report(ctx context.Context, q ReportQuery) (Report, error) {
	if err := s.normalize(ctx, &q); err != nil {
		return Report{}, err
	}
	sq := StatsQuery{Kind: q.Dimension, Model: q.Model, From: q.From, To: q.To, Open: !q.To.Before(Day(s.now()))}
	if !q.All {
		off, err := offsetCursor(q.Cursor)
		if err != nil {
			return Report{}, err
		}
		sq.Offset, sq.Limit = off, domain.BoundLimit(q.Limit)
	}
	stats, more, err := s.Reports.DimensionStats(ctx, sq)
	if err != nil {
		return Report{}, fmt.Errorf("attribution: report: %w", err)
	}
	paid, orders, direct, credited, err := s.Reports.PeriodTotals(ctx, q.Dimension, q.Model, q.From, q.To)
	if err != nil {
		return Report{}, fmt.Errorf("attribution: report: %w", err)
	}
	r := Report{Query: q, Paid: paid, Orders: orders, Credited: credited, Direct: paid - credited, DirectCount: direct}
	for _, st := range stats {
		r.Rows = append(r.Rows, rowOf(st))
	}
	if more {
		r.NextCursor = strconv.Itoa(sq.Offset + len(stats))
	}
	return r, nil
}

// offsetCursor reads a report cursor: the number of touchpoints already
// listed. (A report ranks by amounts that move, so an offset is the honest
// cursor: a page may shift by a row when new orders arrive in between.)
func offsetCursor(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 || n > 10_000_000 {
		return 0, domain.ErrBadCursor
	}
	return n, nil
}

func rowOf(st TouchpointStats) ReportRow {
	row := ReportRow{TouchpointStats: st, Net: st.Credited - st.Refunded}
	if st.Visitors > 0 {
		row.Conversion = ratio(st.Buyers, st.Visitors)
	}
	if st.Buyers > 0 {
		row.RepeatBuyerRate = ratio(st.RepeatBuyers, st.Buyers)
	}
	if st.Orders > 0 {
		row.AverageOrderFen = st.Credited.MulRat(1, st.Orders)
	}
	return row
}

// ratio is a/b rounded to four decimals (a display ratio, not money).
func ratio(a, b int64) float64 {
	return float64(domain.Fen(a).MulRat(10000, b)) / 10000
}

// Daily is one touchpoint's series, one row per day of the period (days
// without activity included, as zeros).
func (s *Service) Daily(ctx context.Context, q ReportQuery, id int64) ([]ReportRow, error) {
	if err := s.normalize(ctx, &q); err != nil {
		return nil, err
	}
	stats, err := s.Reports.DailyStats(ctx, q.Dimension, id, q.Model, q.From, q.To)
	if err != nil {
		return nil, fmt.Errorf("attribution: daily: %w", err)
	}
	byDay := map[string]TouchpointStats{}
	for _, st := range stats {
		byDay[st.Day.Format(time.DateOnly)] = st
	}
	var out []ReportRow
	for d := q.From; !d.After(q.To); d = d.AddDate(0, 0, 1) {
		st, ok := byDay[d.Format(time.DateOnly)]
		if !ok {
			st = TouchpointStats{TouchpointID: id}
		}
		st.Day = d
		out = append(out, rowOf(st))
	}
	return out, nil
}

// TopProducts lists the products most credited to one touchpoint.
func (s *Service) TopProducts(ctx context.Context, q ReportQuery, id int64, limit int) ([]ProductStats, error) {
	if err := s.normalize(ctx, &q); err != nil {
		return nil, err
	}
	limit = domain.BoundLimit(limit)
	ps, err := s.Reports.TopProducts(ctx, q.Dimension, id, q.Model, q.From, q.To, limit)
	if err != nil {
		return nil, fmt.Errorf("attribution: top products: %w", err)
	}
	return ps, nil
}
