package mpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/address"
)

type addressDTO struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Phone     string `json:"phone"`
	Province  string `json:"province"`
	City      string `json:"city"`
	District  string `json:"district"`
	Detail    string `json:"detail"`
	IsDefault bool   `json:"is_default"`
}

func toAddressDTO(a address.Address) addressDTO {
	return addressDTO{ID: a.ID, Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City,
		District: a.District, Detail: a.Detail, IsDefault: a.IsDefault}
}

type createAddressRequest struct {
	Name      string `json:"name" validate:"required,max=50"`
	Phone     string `json:"phone" validate:"required,max=20"`
	Province  string `json:"province" validate:"required,max=50"`
	City      string `json:"city" validate:"required,max=50"`
	District  string `json:"district" validate:"max=50"`
	Detail    string `json:"detail" validate:"required,max=200"`
	IsDefault bool   `json:"is_default"`
}

type updateAddressRequest struct {
	Name      *string `json:"name" validate:"omitempty,max=50"`
	Phone     *string `json:"phone" validate:"omitempty,max=20"`
	Province  *string `json:"province" validate:"omitempty,max=50"`
	City      *string `json:"city" validate:"omitempty,max=50"`
	District  *string `json:"district" validate:"omitempty,max=50"`
	Detail    *string `json:"detail" validate:"omitempty,max=200"`
	IsDefault *bool   `json:"is_default"`
}

// GET /api/v1/shop/addresses
func (a *API) listAddresses(c echo.Context) error {
	as, err := a.deps.Addresses.List(c.Request().Context(), shopperID(c))
	if err != nil {
		return err
	}
	out := convertAll(as, toAddressDTO)
	return c.JSON(http.StatusOK, newList(out, ""))
}

// GET /api/v1/shop/addresses/{id}
func (a *API) getAddress(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	x, err := a.deps.Addresses.Get(c.Request().Context(), shopperID(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAddressDTO(x))
}

// POST /api/v1/shop/addresses
func (a *API) createAddress(c echo.Context) error {
	var req createAddressRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	x, err := a.deps.Addresses.Create(c.Request().Context(), address.Address{ShopperID: shopperID(c), Name: req.Name,
		Phone: req.Phone, Province: req.Province, City: req.City, District: req.District, Detail: req.Detail,
		IsDefault: req.IsDefault})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAddressDTO(x))
}

// PATCH /api/v1/shop/addresses/{id}
func (a *API) updateAddress(c echo.Context) error {
	var req updateAddressRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	x, err := a.deps.Addresses.Update(c.Request().Context(), shopperID(c), id, address.Patch{Name: req.Name,
		Phone: req.Phone, Province: req.Province, City: req.City, District: req.District, Detail: req.Detail,
		IsDefault: req.IsDefault})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAddressDTO(x))
}

// DELETE /api/v1/shop/addresses/{id}
func (a *API) deleteAddress(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.deps.Addresses.Delete(c.Request().Context(), shopperID(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
