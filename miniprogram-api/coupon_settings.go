package mpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/coupon"
)

type couponSettingsDTO struct {
	// OnePerKind: a shopper may combine coupons on one order, at most one
	// of each kind; false: one coupon per order.
	OnePerKind *bool `json:"one_per_kind" validate:"required"`
}

func toCouponSettingsDTO(s coupon.Settings) couponSettingsDTO {
	return couponSettingsDTO{OnePerKind: &s.OnePerKind}
}

// GET /api/v1/admin/coupon-settings
func (a *API) getCouponSettings(c echo.Context) error {
	s, err := a.deps.Coupons.GetSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCouponSettingsDTO(s))
}

// PUT /api/v1/admin/coupon-settings
func (a *API) putCouponSettings(c echo.Context) error {
	var req couponSettingsDTO
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.deps.Coupons.PutSettings(c.Request().Context(), actor(c), requestID(c), coupon.Settings{OnePerKind: *req.OnePerKind})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCouponSettingsDTO(s))
}
