package mpapi

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
)

// wantsCSV reports whether the client asked for CSV (Accept: text/csv).
func wantsCSV(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/csv")
}

func writeCSV(c echo.Context, name string, header []string, rows [][]string) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(header)
	_ = w.WriteAll(rows)
	w.Flush()
	return w.Error()
}

// reportQuery reads dimension (path or query), model, from and to (dates,
// YYYY-MM-DD, Asia/Shanghai).
func reportQuery(c echo.Context) (attribution.ReportQuery, error) {
	q := attribution.ReportQuery{Dimension: attribution.TouchpointKind(c.QueryParam("dimension")), Model: attribution.Model(c.QueryParam("model"))}
	if d := c.Param("dimension"); d != "" {
		q.Dimension = attribution.TouchpointKind(d)
	}
	var fe []domain.FieldError
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		t, bad := dateParam(c, f.name, time.DateOnly)
		if bad != nil {
			fe = append(fe, *bad)
			continue
		}
		*f.dst = t
	}
	if len(fe) > 0 {
		return q, invalidFields(fe)
	}
	return q, nil
}

// touchpointReportQuery reads a report's query and the touchpoint id in its
// path, for the one-touchpoint reports.
func touchpointReportQuery(c echo.Context) (attribution.ReportQuery, int64, error) {
	q, err := reportQuery(c)
	if err != nil {
		return q, 0, err
	}
	id, err := pathID(c, "id")
	return q, id, err
}

type reportRowDTO struct {
	TouchpointID      int64   `json:"touchpoint_id"`
	Name              string  `json:"name"`
	Day               string  `json:"day,omitempty"`
	Touches           int64   `json:"touches"`
	UniqueVisitors    int64   `json:"unique_visitors"`
	AttributedOrders  int64   `json:"attributed_orders"`
	Buyers            int64   `json:"buyers"`
	AttributedGMVFen  int64   `json:"attributed_gmv_fen"`
	RefundedFen       int64   `json:"refunded_fen"`
	NetGMVFen         int64   `json:"net_gmv_fen"`
	Conversion        float64 `json:"conversion"`
	NewCustomerOrders int64   `json:"new_customer_orders"`
	RepeatBuyerRate   float64 `json:"repeat_buyer_rate"`
	AverageOrderFen   int64   `json:"average_order_fen"`
}

func toReportRowDTO(r attribution.ReportRow, daily bool) reportRowDTO {
	d := reportRowDTO{TouchpointID: r.TouchpointID, Name: r.Name, Touches: r.Touches, UniqueVisitors: r.Visitors,
		AttributedOrders: r.Orders, Buyers: r.Buyers, AttributedGMVFen: int64(r.Credited), RefundedFen: int64(r.Refunded),
		NetGMVFen: int64(r.Net), Conversion: r.Conversion, NewCustomerOrders: r.NewCustomerOrders,
		RepeatBuyerRate: r.RepeatBuyerRate, AverageOrderFen: int64(r.AverageOrderFen)}
	if daily {
		d.Day = r.Day.Format(time.DateOnly)
	}
	return d
}

var reportCSVHeader = []string{"touchpoint_id", "name", "day", "touches", "unique_visitors", "attributed_orders", "buyers",
	"attributed_gmv_fen", "refunded_fen", "net_gmv_fen", "conversion", "new_customer_orders", "repeat_buyer_rate", "average_order_fen"}

func (d reportRowDTO) csv() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	return []string{i(d.TouchpointID), d.Name, d.Day, i(d.Touches), i(d.UniqueVisitors), i(d.AttributedOrders), i(d.Buyers),
		i(d.AttributedGMVFen), i(d.RefundedFen), i(d.NetGMVFen), f(d.Conversion), i(d.NewCustomerOrders), f(d.RepeatBuyerRate),
		i(d.AverageOrderFen)}
}

type reportResponse struct {
	Dimension string         `json:"dimension"`
	Model     string         `json:"model"`
	From      string         `json:"from"`
	To        string         `json:"to"`
	Items     []reportRowDTO `json:"items"`
	// NextCursor pages the items ("" on the last page); totals are always
	// the whole dimension's.
	NextCursor string       `json:"next_cursor"`
	Totals     reportTotals `json:"totals"`
}

// reportTotals: credited_gmv_fen + direct_gmv_fen = paid_gmv_fen exactly.
// direct_gmv_fen is what no touchpoint of this dimension was credited with.
type reportTotals struct {
	PaidGMVFen     int64 `json:"paid_gmv_fen"`
	PaidOrders     int64 `json:"paid_orders"`
	CreditedGMVFen int64 `json:"credited_gmv_fen"`
	DirectGMVFen   int64 `json:"direct_gmv_fen"`
	DirectOrders   int64 `json:"direct_orders"`
}

// GET /api/v1/admin/reports/attribution?dimension&model&from&to&cursor&limit
// (CSV: every touchpoint, no paging)
func (a *API) attributionReport(c echo.Context) error {
	q, err := reportQuery(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	q.Cursor, q.Limit, q.All = page.Cursor, page.Limit, wantsCSV(c)
	r, err := a.deps.Attribution.Report(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := reportResponse{Dimension: string(r.Query.Dimension), Model: string(r.Query.Model),
		From: r.Query.From.Format(time.DateOnly), To: r.Query.To.Format(time.DateOnly), Items: []reportRowDTO{},
		NextCursor: r.NextCursor,
		Totals: reportTotals{PaidGMVFen: int64(r.Paid), PaidOrders: r.Orders, CreditedGMVFen: int64(r.Credited),
			DirectGMVFen: int64(r.Direct), DirectOrders: r.DirectCount}}
	for _, row := range r.Rows {
		out.Items = append(out.Items, toReportRowDTO(row, false))
	}
	if wantsCSV(c) {
		rows := make([][]string, 0, len(out.Items)+1)
		for _, it := range out.Items {
			rows = append(rows, it.csv())
		}
		rows = append(rows, []string{"", "(direct)", "", "", "", strconv.FormatInt(out.Totals.DirectOrders, 10), "",
			strconv.FormatInt(out.Totals.DirectGMVFen, 10), "", "", "", "", "", ""})
		return writeCSV(c, fmt.Sprintf("attribution-%s-%s-%s-%s", out.Dimension, out.Model, out.From, out.To), reportCSVHeader, rows)
	}
	return c.JSON(http.StatusOK, out)
}

// GET /api/v1/admin/reports/attribution/{dimension}/{id}/daily?model&from&to
func (a *API) attributionDaily(c echo.Context) error {
	q, id, err := touchpointReportQuery(c)
	if err != nil {
		return err
	}
	rows, err := a.deps.Attribution.Daily(c.Request().Context(), q, id)
	if err != nil {
		return err
	}
	out := make([]reportRowDTO, len(rows))
	for i, r := range rows {
		out[i] = toReportRowDTO(r, true)
	}
	if wantsCSV(c) {
		cs := convertAll(out, reportRowDTO.csv)
		return writeCSV(c, fmt.Sprintf("attribution-%s-%d-daily", q.Dimension, id), reportCSVHeader, cs)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

type productStatsDTO struct {
	ProductID        int64  `json:"product_id"`
	Title            string `json:"title"`
	AttributedOrders int64  `json:"attributed_orders"`
	AttributedGMVFen int64  `json:"attributed_gmv_fen"`
	RefundedFen      int64  `json:"refunded_fen"`
}

// GET /api/v1/admin/reports/attribution/{dimension}/{id}/products?model&from&to&limit
func (a *API) attributionProducts(c echo.Context) error {
	q, id, err := touchpointReportQuery(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ps, err := a.deps.Attribution.TopProducts(c.Request().Context(), q, id, page.Limit)
	if err != nil {
		return err
	}
	out := make([]productStatsDTO, len(ps))
	for i, p := range ps {
		out[i] = productStatsDTO{ProductID: p.ProductID, Title: p.Title, AttributedOrders: p.Orders,
			AttributedGMVFen: int64(p.Credited), RefundedFen: int64(p.Refunded)}
	}
	if wantsCSV(c) {
		cs := make([][]string, len(out))
		for i, p := range out {
			cs[i] = []string{strconv.FormatInt(p.ProductID, 10), p.Title, strconv.FormatInt(p.AttributedOrders, 10),
				strconv.FormatInt(p.AttributedGMVFen, 10), strconv.FormatInt(p.RefundedFen, 10)}
		}
		return writeCSV(c, fmt.Sprintf("attribution-%s-%d-products", q.Dimension, id),
			[]string{"product_id", "title", "attributed_orders", "attributed_gmv_fen", "refunded_fen"}, cs)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

// --- one order's explanation ---

type touchpointRefDTO struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
}

type lineAmountDTO struct {
	ItemID    int64 `json:"item_id"`
	AmountFen int64 `json:"amount_fen"`
}

type creditDTO struct {
	TouchID     int64              `json:"touch_id"`
	Touchpoints []touchpointRefDTO `json:"touchpoints"`
	Weight      float64            `json:"weight"` // 0…1
	AmountFen   int64              `json:"amount_fen"`
	Lines       []lineAmountDTO    `json:"lines"`
}

type candidateDTO struct {
	TouchID     int64              `json:"touch_id"`
	At          time.Time          `json:"at"`
	Code        string             `json:"code"`
	Scene       int                `json:"scene"`
	Chat        string             `json:"chat,omitempty"` // group | single: where the shared card was opened
	Touchpoints []touchpointRefDTO `json:"touchpoints"`
	Weight      float64            `json:"weight"`
	Reason      string             `json:"reason"`
}

type modelAttributionDTO struct {
	Model           string         `json:"model"`
	Default         bool           `json:"default"`
	Direct          bool           `json:"direct"`
	LookbackSeconds int64          `json:"lookback_seconds"`
	HalfLifeSeconds int64          `json:"half_life_seconds,omitempty"`
	Candidates      []candidateDTO `json:"candidates"`
	Reasons         []string       `json:"reasons"`
	Credits         []creditDTO    `json:"credits"`
	Reversals       []creditDTO    `json:"reversals"`
}

type orderAttributionDTO struct {
	OrderNo      string                `json:"order_no"`
	PlacedAt     time.Time             `json:"placed_at"`
	PaidAt       time.Time             `json:"paid_at"`
	PaidGoodsFen int64                 `json:"paid_goods_fen"`
	NewCustomer  bool                  `json:"new_customer"`
	InStore      bool                  `json:"in_store"`
	DefaultModel string                `json:"default_model"`
	Models       []modelAttributionDTO `json:"models"`
}

func refsOf(tps []attribution.Touchpoint) []touchpointRefDTO {
	out := make([]touchpointRefDTO, len(tps))
	for i, t := range tps {
		out[i] = touchpointRefDTO{Kind: string(t.Kind), ID: t.ID}
	}
	return out
}

func creditDTOs(cs []attribution.Credit) []creditDTO {
	out := make([]creditDTO, len(cs))
	for i, c := range cs {
		d := creditDTO{TouchID: c.TouchID, Touchpoints: refsOf(c.Touchpoints), Weight: float64(c.Weight) / float64(attribution.WeightScale),
			AmountFen: int64(c.Amount), Lines: []lineAmountDTO{}}
		for _, l := range c.Lines {
			d.Lines = append(d.Lines, lineAmountDTO{ItemID: l.ItemID, AmountFen: int64(l.Amount)})
		}
		out[i] = d
	}
	return out
}

// GET /api/v1/admin/orders/{no}/attribution
func (a *API) orderAttribution(c echo.Context) error {
	at, err := a.deps.Attribution.OrderAttribution(c.Request().Context(), c.Param("no"))
	if err != nil {
		return err
	}
	out := orderAttributionDTO{OrderNo: at.Order.Number, PlacedAt: at.Order.PlacedAt, PaidAt: at.Order.PaidAt,
		PaidGoodsFen: int64(at.Paid), NewCustomer: at.Order.NewCustomer, InStore: at.InStore, DefaultModel: string(at.DefaultModel)}
	for _, m := range at.Models {
		ex := m.Explanation
		md := modelAttributionDTO{Model: string(m.Model), Default: m.Model == at.DefaultModel, Direct: m.Direct,
			LookbackSeconds: int64(ex.Lookback / time.Second), HalfLifeSeconds: int64(ex.HalfLife / time.Second),
			Candidates: []candidateDTO{}, Reasons: ex.Reasons, Credits: creditDTOs(m.Credits), Reversals: creditDTOs(m.Reversals)}
		if md.Reasons == nil {
			md.Reasons = []string{}
		}
		weights := map[int64]attribution.Weight{}
		for _, w := range ex.Weights {
			weights[w.TouchID] = w
		}
		for _, t := range ex.Candidates {
			w := weights[t.ID]
			md.Candidates = append(md.Candidates, candidateDTO{TouchID: t.ID, At: t.At, Code: t.Code, Scene: t.Scene, Chat: string(t.Chat),
				Touchpoints: refsOf(t.Touchpoints), Weight: float64(w.Parts) / float64(attribution.WeightScale), Reason: w.Reason})
		}
		out.Models = append(out.Models, md)
	}
	if wantsCSV(c) {
		var rows [][]string
		for _, m := range out.Models {
			for _, cr := range m.Credits {
				for _, tp := range cr.Touchpoints {
					rows = append(rows, []string{out.OrderNo, m.Model, strconv.FormatBool(m.Default), strconv.FormatInt(cr.TouchID, 10),
						tp.Kind, strconv.FormatInt(tp.ID, 10), strconv.FormatFloat(cr.Weight, 'f', 9, 64), strconv.FormatInt(cr.AmountFen, 10)})
				}
			}
			if m.Direct {
				rows = append(rows, []string{out.OrderNo, m.Model, strconv.FormatBool(m.Default), "", "direct", "", "1", strconv.FormatInt(out.PaidGoodsFen, 10)})
			}
		}
		return writeCSV(c, "attribution-"+out.OrderNo, []string{"order_no", "model", "default", "touch_id", "kind", "touchpoint_id", "weight", "amount_fen"}, rows)
	}
	return c.JSON(http.StatusOK, out)
}
