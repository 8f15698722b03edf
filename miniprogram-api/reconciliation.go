package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/reconcile"
)

// Daily reconciliation against WeChat Pay's trade bill: finance reads the
// discrepancies and the runs, resolves a discrepancy with a note, and may
// reconcile a day now (both writes audited).

type reconciliationRunDTO struct {
	ID             int64      `json:"id"`
	BillDate       string     `json:"bill_date"`
	Status         string     `json:"status"`
	Runs           int        `json:"runs"`
	Lines          int        `json:"lines"`
	Matched        int        `json:"matched"`
	Applied        int        `json:"applied"`
	RefundsSettled int        `json:"refunds_settled"`
	Discrepancies  int        `json:"discrepancies"`
	Error          string     `json:"error,omitempty"`
	StartedBy      string     `json:"started_by"`
	StartedAt      time.Time  `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
}

func toRunDTO(r reconcile.Run) reconciliationRunDTO {
	d := reconciliationRunDTO{ID: r.ID, BillDate: r.BillDate, Status: string(r.Status), Runs: r.Runs, Lines: r.Lines,
		Matched: r.Matched, Applied: r.Applied, RefundsSettled: r.RefundsSettled, Discrepancies: r.Discrepancies,
		Error: r.Error, StartedBy: r.StartedBy, StartedAt: r.StartedAt}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		d.FinishedAt = &t
	}
	return d
}

type discrepancyDTO struct {
	ID            int64      `json:"id"`
	RunID         int64      `json:"run_id"`
	BillDate      string     `json:"bill_date"`
	Kind          string     `json:"kind"`
	OutTradeNo    string     `json:"out_trade_no,omitempty"`
	OutRefundNo   string     `json:"out_refund_no,omitempty"`
	TransactionID string     `json:"transaction_id,omitempty"`
	BillAmountFen *int64     `json:"bill_amount_fen"`
	OurAmountFen  *int64     `json:"our_amount_fen"`
	Detail        string     `json:"detail"`
	Status        string     `json:"status"`
	ResolvedBy    string     `json:"resolved_by,omitempty"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	Note          string     `json:"note,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
}

func fenPtr(f *domain.Fen) *int64 {
	if f == nil {
		return nil
	}
	v := int64(*f)
	return &v
}

func toDiscrepancyDTO(d reconcile.Discrepancy) discrepancyDTO {
	out := discrepancyDTO{ID: d.ID, RunID: d.RunID, BillDate: d.BillDate, Kind: string(d.Kind), OutTradeNo: d.OutTradeNo,
		OutRefundNo: d.OutRefundNo, TransactionID: d.TransactionID, BillAmountFen: fenPtr(d.BillAmount),
		OurAmountFen: fenPtr(d.OurAmount), Detail: d.Detail, Status: "open", CreatedAt: d.CreatedAt}
	if d.Resolved {
		t := d.ResolvedAt
		out.Status, out.ResolvedBy, out.ResolvedAt, out.Note = "resolved", d.ResolvedBy, &t, d.Note
	}
	return out
}

// queryDate reads an optional YYYY-MM-DD query parameter.
func queryDate(c echo.Context, name string) (string, error) {
	v := c.QueryParam(name)
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse("2006-01-02", v); err != nil || t.Format("2006-01-02") != v {
		return "", domain.Invalid(domain.FieldError{Field: name, Code: "format", Message: "must be a date (YYYY-MM-DD)"})
	}
	return v, nil
}

// GET /api/v1/admin/reconciliation?bill_date=&kind=&status=open|resolved&cursor=&limit=
// — the discrepancies, newest first.
func (a *API) listDiscrepancies(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	date, err := queryDate(c, "bill_date")
	if err != nil {
		return err
	}
	kind := reconcile.Kind(c.QueryParam("kind"))
	if kind != "" && !kind.Valid() {
		return domain.Invalid(domain.FieldError{Field: "kind", Code: "oneof", Message: "is not a discrepancy kind"})
	}
	status := c.QueryParam("status")
	if status != "" && status != "open" && status != "resolved" {
		return domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be open or resolved"})
	}
	rows, next, err := a.deps.Reconcile.Discrepancies(c.Request().Context(),
		reconcile.DiscrepancyFilter{BillDate: date, Kind: kind, Status: status, Page: page})
	if err != nil {
		return err
	}
	out := make([]discrepancyDTO, len(rows))
	for i, d := range rows {
		out[i] = toDiscrepancyDTO(d)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/reconciliation/runs?from=&to=&status=&cursor=&limit=
// — one run per bill date, newest first.
func (a *API) listReconciliationRuns(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	from, err := queryDate(c, "from")
	if err != nil {
		return err
	}
	to, err := queryDate(c, "to")
	if err != nil {
		return err
	}
	status := reconcile.RunStatus(c.QueryParam("status"))
	switch status {
	case "", reconcile.RunRunning, reconcile.RunSucceeded, reconcile.RunFailed:
	default:
		return domain.Invalid(domain.FieldError{Field: "status", Code: "oneof", Message: "must be running, succeeded or failed"})
	}
	rows, next, err := a.deps.Reconcile.Runs(c.Request().Context(), reconcile.RunFilter{From: from, To: to, Status: status, Page: page})
	if err != nil {
		return err
	}
	out := make([]reconciliationRunDTO, len(rows))
	for i, r := range rows {
		out[i] = toRunDTO(r)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

type triggerRunRequest struct {
	BillDate string `json:"bill_date" validate:"required,len=10"`
}

// POST /api/v1/admin/reconciliation/runs {bill_date}: reconcile that day
// now (again, if it was). Safe to repeat: nothing is applied or recorded
// twice. The run answers even when it failed (status, error).
func (a *API) triggerReconciliation(c echo.Context) error {
	var req triggerRunRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	run, err := a.deps.Reconcile.Trigger(c.Request().Context(), req.BillDate, actor(c), requestID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toRunDTO(run))
}

type resolveDiscrepancyRequest struct {
	Note string `json:"note" validate:"required,max=500"`
}

// POST /api/v1/admin/reconciliation/discrepancies/{id}/resolve {note}.
func (a *API) resolveDiscrepancy(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req resolveDiscrepancyRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	d, err := a.deps.Reconcile.Resolve(c.Request().Context(), id, req.Note, actor(c), requestID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toDiscrepancyDTO(d))
}
