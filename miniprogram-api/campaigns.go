package mpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/campaign"
)

type campaignSKUDTO struct {
	SKUID     int64 `json:"sku_id" validate:"required,gt=0"`
	PriceFen  int64 `json:"price_fen" validate:"required,gt=0"`
	Allotment int   `json:"allotment" validate:"gte=0,lte=10000000"`
	Taken     int   `json:"taken"`
}

type campaignDTO struct {
	ID              int64            `json:"id"`
	Kind            string           `json:"kind"`
	Name            string           `json:"name"`
	Status          string           `json:"status"`
	StartsAt        time.Time        `json:"starts_at"`
	EndsAt          time.Time        `json:"ends_at"`
	PerShopperLimit int              `json:"per_shopper_limit"`
	SKUs            []campaignSKUDTO `json:"skus"`
	Weekday         *int             `json:"weekday,omitempty"`
	MonthDay        *int             `json:"month_day,omitempty"`
	BoostBP         int              `json:"boost_bp,omitempty"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

func toCampaignDTO(c campaign.Campaign) campaignDTO {
	out := campaignDTO{ID: c.ID, Kind: string(c.Kind), Name: c.Name, Status: string(c.Status), StartsAt: c.StartsAt,
		EndsAt: c.EndsAt, PerShopperLimit: c.PerShopperLimit, SKUs: []campaignSKUDTO{}, Weekday: c.Weekday,
		MonthDay: c.MonthDay, BoostBP: c.BoostBP, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	for _, k := range c.SKUs {
		out.SKUs = append(out.SKUs, campaignSKUDTO{SKUID: k.SKUID, PriceFen: int64(k.Price), Allotment: k.Allotment, Taken: k.Taken})
	}
	return out
}

type campaignRequest struct {
	Kind            string           `json:"kind" validate:"required,oneof=flash_sale member_day"`
	Name            string           `json:"name" validate:"required,max=100"`
	Status          string           `json:"status" validate:"omitempty,oneof=draft scheduled"`
	StartsAt        time.Time        `json:"starts_at" validate:"required"`
	EndsAt          time.Time        `json:"ends_at" validate:"required"`
	PerShopperLimit int              `json:"per_shopper_limit" validate:"gte=0,lte=999"`
	SKUs            []campaignSKUDTO `json:"skus" validate:"omitempty,max=200,dive"`
	Weekday         *int             `json:"weekday" validate:"omitempty,gte=0,lte=6"`
	MonthDay        *int             `json:"month_day" validate:"omitempty,gte=1,lte=31"`
	BoostBP         int              `json:"boost_bp" validate:"gte=0,lte=10000"`
}

func toCampaignSKUs(ks []campaignSKUDTO) []campaign.SKU {
	out := make([]campaign.SKU, len(ks))
	for i, k := range ks {
		out[i] = campaign.SKU{SKUID: k.SKUID, Price: domain.Fen(k.PriceFen), Allotment: k.Allotment}
	}
	return out
}

// POST /api/v1/admin/campaigns
func (a *API) createCampaign(c echo.Context) error {
	var req campaignRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	cp, err := a.deps.Campaigns.Create(c.Request().Context(), actor(c), requestID(c), campaign.Campaign{
		Kind: campaign.Kind(req.Kind), Name: req.Name, Status: campaign.Status(req.Status), StartsAt: req.StartsAt,
		EndsAt: req.EndsAt, PerShopperLimit: req.PerShopperLimit, SKUs: toCampaignSKUs(req.SKUs), Weekday: req.Weekday,
		MonthDay: req.MonthDay, BoostBP: req.BoostBP})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCampaignDTO(cp))
}

type campaignPatch struct {
	Name            *string           `json:"name" validate:"omitempty,max=100"`
	StartsAt        *time.Time        `json:"starts_at"`
	EndsAt          *time.Time        `json:"ends_at"`
	PerShopperLimit *int              `json:"per_shopper_limit" validate:"omitempty,gte=0,lte=999"`
	SKUs            *[]campaignSKUDTO `json:"skus" validate:"omitempty,max=200,dive"`
	BoostBP         *int              `json:"boost_bp" validate:"omitempty,gte=0,lte=10000"`
}

// PATCH /api/v1/admin/campaigns/{id}
func (a *API) patchCampaign(c echo.Context) error {
	var req campaignPatch
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	cp, err := a.deps.Campaigns.Update(c.Request().Context(), actor(c), requestID(c), id, func(cp *campaign.Campaign) {
		set(&cp.Name, req.Name)
		set(&cp.StartsAt, req.StartsAt)
		set(&cp.EndsAt, req.EndsAt)
		set(&cp.PerShopperLimit, req.PerShopperLimit)
		set(&cp.BoostBP, req.BoostBP)
		if req.SKUs != nil {
			cp.SKUs = toCampaignSKUs(*req.SKUs)
		}
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaignDTO(cp))
}

// POST /api/v1/admin/campaigns/{id}/status
func (a *API) setCampaignStatus(c echo.Context) error {
	var req statusRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	cp, err := a.deps.Campaigns.SetStatus(c.Request().Context(), actor(c), requestID(c), id, campaign.Status(req.Status))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaignDTO(cp))
}

// GET /api/v1/admin/campaigns/{id}
func (a *API) getCampaign(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	cp, err := a.deps.Campaigns.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCampaignDTO(cp))
}

// GET /api/v1/admin/campaigns?status&cursor&limit
func (a *API) listCampaigns(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	cs, next, err := a.deps.Campaigns.List(c.Request().Context(), campaign.Status(c.QueryParam("status")), page)
	if err != nil {
		return err
	}
	out := convertAll(cs, toCampaignDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// campaignPriceDTO is a SKU's flash-sale price on the product list and
// detail: running now, or upcoming with its start.
type campaignPriceDTO struct {
	CampaignID int64     `json:"campaign_id"`
	SKUID      int64     `json:"sku_id"`
	PriceFen   int64     `json:"price_fen"`
	Left       int       `json:"left"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at"`
}

// productCampaignDTO is a product's running and upcoming campaign prices.
type productCampaignDTO struct {
	Running  []campaignPriceDTO `json:"running"`
	Upcoming []campaignPriceDTO `json:"upcoming"`
}

// campaignPrices returns the campaign section of each product.
func (a *API) campaignPrices(ctx context.Context, productIDs []int64) (map[int64]*productCampaignDTO, error) {
	ps, err := a.deps.Campaigns.ProductPrices(ctx, productIDs)
	if err != nil {
		return nil, err
	}
	out := map[int64]*productCampaignDTO{}
	for pid, list := range ps {
		d := &productCampaignDTO{Running: []campaignPriceDTO{}, Upcoming: []campaignPriceDTO{}}
		for _, p := range list {
			x := campaignPriceDTO{CampaignID: p.CampaignID, SKUID: p.SKUID, PriceFen: int64(p.Price), Left: max(0, p.Left),
				StartsAt: p.StartsAt, EndsAt: p.EndsAt}
			if p.Running {
				d.Running = append(d.Running, x)
			} else {
				d.Upcoming = append(d.Upcoming, x)
			}
		}
		out[pid] = d
	}
	return out, nil
}
