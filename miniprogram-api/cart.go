package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/cart"
	"github.com/yutang/yutang/domain/identity"
)

type cartLineDTO struct {
	SKUID        int64             `json:"sku_id"`
	ProductID    int64             `json:"product_id"`
	SKUCode      string            `json:"sku_code"`
	Title        string            `json:"title"`
	Specs        map[string]string `json:"specs"`
	Image        string            `json:"image"`
	UnitPriceFen int64             `json:"unit_price_fen"`
	Quantity     int               `json:"quantity"`
	Selected     bool              `json:"selected"`
	State        string            `json:"state"` // available, short, sold_out, off_sale, over_limit
	MaxQuantity  int               `json:"max_quantity"`
	AddedAt      time.Time         `json:"added_at"`
}

type cartResponse struct {
	Items               []cartLineDTO `json:"items"`
	SelectedCount       int           `json:"selected_count"`
	SelectedSubtotalFen int64         `json:"selected_subtotal_fen"`
}

func toCartResponse(c cart.Cart) cartResponse {
	out := cartResponse{Items: make([]cartLineDTO, len(c.Lines)), SelectedCount: c.SelectedCount,
		SelectedSubtotalFen: int64(c.SelectedSubtotal)}
	for i, l := range c.Lines {
		specs := l.SKU.Specs
		if specs == nil {
			specs = map[string]string{}
		}
		out.Items[i] = cartLineDTO{SKUID: l.SKUID, ProductID: l.SKU.ProductID, SKUCode: l.SKU.Code, Title: l.SKU.Title,
			Specs: specs, Image: l.SKU.Image, UnitPriceFen: int64(l.SKU.Price), Quantity: l.Quantity, Selected: l.Selected,
			State: string(l.State), MaxQuantity: l.Limit, AddedAt: l.AddedAt}
	}
	return out
}

// cartOwner is whose cart a request acts on: the signed-in shopper, or the
// anonymous visitor of X-Anon-Id.
func cartOwner(c echo.Context) (cart.Owner, error) {
	if p, ok := principal(c); ok {
		if p.Kind != identity.SubjectShopper {
			return cart.Owner{}, domain.ErrForbidden.WithMessage("This route is for shoppers.")
		}
		return cart.Owner{ShopperID: p.ID}, nil
	}
	if id := anonID(c); id != "" {
		return cart.Owner{AnonID: id}, nil
	}
	return cart.Owner{}, cart.ErrNoOwner
}

// GET /api/v1/shop/cart
func (a *API) getCart(c echo.Context) error {
	o, err := cartOwner(c)
	if err != nil {
		return err
	}
	ct, err := a.deps.Cart.Get(c.Request().Context(), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCartResponse(ct))
}

type addCartItemRequest struct {
	SKUID    int64 `json:"sku_id" validate:"required,gt=0"`
	Quantity int   `json:"quantity" validate:"required,gte=1,lte=999"`
}

// POST /api/v1/shop/cart/items
func (a *API) addCartItem(c echo.Context) error {
	o, err := cartOwner(c)
	if err != nil {
		return err
	}
	var req addCartItemRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	ct, err := a.deps.Cart.Add(c.Request().Context(), o, req.SKUID, req.Quantity)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCartResponse(ct))
}

type updateCartItemRequest struct {
	Quantity *int  `json:"quantity" validate:"omitempty,gte=1,lte=999"`
	Selected *bool `json:"selected"`
}

// PATCH /api/v1/shop/cart/items/{sku_id}
func (a *API) updateCartItem(c echo.Context) error {
	o, err := cartOwner(c)
	if err != nil {
		return err
	}
	var req updateCartItemRequest
	sku, err := a.bindWithID(c, "sku_id", &req)
	if err != nil {
		return err
	}
	ct, err := a.deps.Cart.Update(c.Request().Context(), o, sku, req.Quantity, req.Selected)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCartResponse(ct))
}

// DELETE /api/v1/shop/cart/items/{sku_id}
func (a *API) removeCartItem(c echo.Context) error {
	o, err := cartOwner(c)
	if err != nil {
		return err
	}
	sku, err := pathID(c, "sku_id")
	if err != nil {
		return err
	}
	ct, err := a.deps.Cart.Remove(c.Request().Context(), o, sku)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCartResponse(ct))
}
