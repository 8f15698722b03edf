package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/aftersales"
)

type afterSalesLineRequest struct {
	ItemID   int64 `json:"item_id" validate:"required,gt=0"`
	Quantity int   `json:"quantity" validate:"required,gte=1,lte=999"`
}

type afterSalesRequest struct {
	Lines  []afterSalesLineRequest `json:"lines" validate:"required,min=1,max=50,dive"`
	Reason string                  `json:"reason" validate:"required,max=500"`
}

type approveAfterSalesRequest struct {
	GoodsReturned bool `json:"goods_returned"`
}

type rejectAfterSalesRequest struct {
	Reason string `json:"reason" validate:"required,max=500"`
}

type afterSalesLineDTO struct {
	ItemID    int64 `json:"item_id"`
	Quantity  int   `json:"quantity"`
	AmountFen int64 `json:"amount_fen"`
}

type refundDTO struct {
	OutRefundNo string     `json:"out_refund_no"`
	Status      string     `json:"status"`
	AmountFen   int64      `json:"amount_fen"`
	FreightFen  int64      `json:"freight_fen"`
	SucceededAt *time.Time `json:"succeeded_at,omitempty"`
}

type afterSalesDTO struct {
	ID            int64               `json:"id"`
	OrderNo       string              `json:"order_no"`
	Status        string              `json:"status"`
	Reason        string              `json:"reason"`
	GoodsReturned bool                `json:"goods_returned"`
	Lines         []afterSalesLineDTO `json:"lines"`
	CreatedAt     time.Time           `json:"created_at"`
	DecidedAt     *time.Time          `json:"decided_at,omitempty"`
	DecisionNote  string              `json:"decision_note,omitempty"`
	Refund        *refundDTO          `json:"refund"`
}

func toAfterSalesDTO(a aftersales.Request) afterSalesDTO {
	d := afterSalesDTO{ID: a.ID, OrderNo: a.OrderNumber, Status: string(a.Status), Reason: a.Reason,
		GoodsReturned: a.GoodsReturned, CreatedAt: a.CreatedAt, DecisionNote: a.DecisionNote,
		Lines: make([]afterSalesLineDTO, len(a.Lines))}
	for i, l := range a.Lines {
		d.Lines[i] = afterSalesLineDTO{ItemID: l.ItemID, Quantity: l.Quantity, AmountFen: int64(l.Amount)}
	}
	if !a.DecidedAt.IsZero() {
		t := a.DecidedAt
		d.DecidedAt = &t
	}
	if r := a.Refund; r.ID != 0 {
		d.Refund = &refundDTO{OutRefundNo: r.OutRefundNo, Status: string(r.Status), AmountFen: int64(r.Amount),
			FreightFen: int64(r.Freight)}
		if !r.SucceededAt.IsZero() {
			t := r.SucceededAt
			d.Refund.SucceededAt = &t
		}
	}
	return d
}

// POST /api/v1/shop/orders/{no}/after-sales
func (a *API) requestAfterSales(c echo.Context) error {
	var req afterSalesRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	lines := make([]aftersales.LineRequest, len(req.Lines))
	for i, l := range req.Lines {
		lines[i] = aftersales.LineRequest{ItemID: l.ItemID, Quantity: l.Quantity}
	}
	p, _ := principal(c)
	as, err := a.deps.AfterSales.Request(c.Request().Context(), p.ID, c.Param("no"), lines, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAfterSalesDTO(as))
}

// GET /api/v1/admin/after-sales?status&cursor&limit
func (a *API) listAfterSales(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := a.deps.AfterSales.List(c.Request().Context(), aftersales.Status(c.QueryParam("status")), page)
	if err != nil {
		return err
	}
	out := convertAll(rows, toAfterSalesDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// POST /api/v1/admin/after-sales/{id}/approve {goods_returned}
func (a *API) approveAfterSales(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	var req approveAfterSalesRequest
	if c.Request().ContentLength != 0 {
		if err := a.bindJSON(c, &req); err != nil {
			return err
		}
	}
	as, err := a.deps.AfterSales.Approve(c.Request().Context(), aftersales.Decision{ID: id,
		GoodsReturned: req.GoodsReturned, By: actor(c), RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAfterSalesDTO(as))
}

// POST /api/v1/admin/after-sales/{id}/reject {reason}
func (a *API) rejectAfterSales(c echo.Context) error {
	var req rejectAfterSalesRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	as, err := a.deps.AfterSales.Reject(c.Request().Context(), aftersales.Decision{ID: id, Note: req.Reason,
		By: actor(c), RequestID: requestID(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAfterSalesDTO(as))
}
