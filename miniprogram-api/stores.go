package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain/store"
)

type storeDTO struct {
	ID           int64     `json:"id"`
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	Address      string    `json:"address"`
	Latitude     *float64  `json:"latitude"`
	Longitude    *float64  `json:"longitude"`
	OpeningHours string    `json:"opening_hours"`
	Phone        string    `json:"phone"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toStoreDTO(s store.Store) storeDTO {
	return storeDTO{ID: s.ID, Code: s.Code, Name: s.Name, Address: s.Address, Latitude: s.Latitude, Longitude: s.Longitude,
		OpeningHours: s.OpeningHours, Phone: s.Phone, Status: string(s.Status), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type createStoreRequest struct {
	Code         string   `json:"code" validate:"required,max=32"`
	Name         string   `json:"name" validate:"required,max=100"`
	Address      string   `json:"address" validate:"max=200"`
	Latitude     *float64 `json:"latitude" validate:"omitempty,gte=-90,lte=90"`
	Longitude    *float64 `json:"longitude" validate:"omitempty,gte=-180,lte=180"`
	OpeningHours string   `json:"opening_hours" validate:"max=20"`
	Phone        string   `json:"phone" validate:"max=20"`
	Status       string   `json:"status" validate:"omitempty,oneof=open closed"`
}

// GET /api/v1/admin/stores?cursor&limit
func (a *API) listStores(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	ss, next, err := a.deps.Stores.List(c.Request().Context(), page)
	if err != nil {
		return err
	}
	out := convertAll(ss, toStoreDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/stores/{id}
func (a *API) getStore(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	s, err := a.deps.Stores.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toStoreDTO(s))
}

// POST /api/v1/admin/stores
func (a *API) createStore(c echo.Context) error {
	var req createStoreRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.deps.Stores.Create(c.Request().Context(), actor(c), store.Store{Code: req.Code, Name: req.Name,
		Address: req.Address, Latitude: req.Latitude, Longitude: req.Longitude, OpeningHours: req.OpeningHours,
		Phone: req.Phone, Status: store.Status(req.Status)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toStoreDTO(s))
}

type patchStoreRequest struct {
	Name         *string  `json:"name" validate:"omitempty,max=100"`
	Address      *string  `json:"address" validate:"omitempty,max=200"`
	Latitude     *float64 `json:"latitude" validate:"omitempty,gte=-90,lte=90"`
	Longitude    *float64 `json:"longitude" validate:"omitempty,gte=-180,lte=180"`
	OpeningHours *string  `json:"opening_hours" validate:"omitempty,max=20"`
	Phone        *string  `json:"phone" validate:"omitempty,max=20"`
	Status       *string  `json:"status" validate:"omitempty,oneof=open closed"`
}

// PATCH /api/v1/admin/stores/{id}
func (a *API) patchStore(c echo.Context) error {
	var req patchStoreRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	p := store.Patch{Name: req.Name, Address: req.Address, OpeningHours: req.OpeningHours, Phone: req.Phone}
	if req.Latitude != nil {
		p.Latitude = &req.Latitude
	}
	if req.Longitude != nil {
		p.Longitude = &req.Longitude
	}
	if req.Status != nil {
		st := store.Status(*req.Status)
		p.Status = &st
	}
	s, err := a.deps.Stores.Update(c.Request().Context(), actor(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toStoreDTO(s))
}

// DELETE /api/v1/admin/stores/{id}
func (a *API) deleteStore(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.deps.Stores.Delete(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
