package mpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/domain/identity"
)

// --- share links ---

type shareLinkRequest struct {
	ProductID int64 `json:"product_id" validate:"omitempty,gt=0"`
	PostID    int64 `json:"post_id" validate:"omitempty,gt=0,excluded_with=ProductID"`
}

type shareLinkDTO struct {
	Code      string    `json:"code"`
	Path      string    `json:"path"`
	Scene     string    `json:"scene"`
	ProductID int64     `json:"product_id,omitempty"`
	PostID    int64     `json:"post_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func toShareLinkDTO(l attribution.ShareLink) shareLinkDTO {
	return shareLinkDTO{Code: l.Code, Path: l.Path, Scene: l.Scene(), ProductID: l.ProductID, PostID: l.PostID, CreatedAt: l.CreatedAt}
}

// createShareLink serves POST /shop/share-links, /clerk/share-links and
// /admin/share-links: who shares is who is signed in.
func (a *API) createShareLink(c echo.Context) error {
	var req shareLinkRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	by := attribution.Sharer{}
	switch {
	case p.Kind == identity.SubjectShopper:
		by.ShopperID = p.ID
	case p.Role.StoreBound():
		by.StaffID, by.Clerk = p.ID, true
	default:
		by.StaffID = p.ID
	}
	l, err := a.deps.Attribution.Share(c.Request().Context(), attribution.ShareRequest{By: by, ProductID: req.ProductID, PostID: req.PostID})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toShareLinkDTO(l))
}

// GET /api/v1/clerk/share-links
func (a *API) listClerkShareLinks(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	ls, next, err := a.deps.Attribution.ShareLinks(c.Request().Context(), p.ID, page)
	if err != nil {
		return err
	}
	out := convertAll(ls, toShareLinkDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/share-links/{code}/wxacode
func (a *API) shareLinkWxaCode(c echo.Context) error {
	png, err := a.deps.Attribution.WxaCodePNG(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=86400")
	return c.Blob(http.StatusOK, "image/png", png)
}

// --- touches ---

type trackRequest struct {
	Events []trackEventDTO `json:"events" validate:"required,min=1,max=100,dive"`
}

type trackEventDTO struct {
	ID        string        `json:"id" validate:"required,max=64"`
	Code      string        `json:"code" validate:"max=64"`
	Scene     int           `json:"scene" validate:"gte=0,lte=99999"`
	Path      string        `json:"path" validate:"max=512"`
	At        time.Time     `json:"at"`
	GroupInfo *groupInfoDTO `json:"group_info"`
}

type groupInfoDTO struct {
	EncryptedData string `json:"encrypted_data" validate:"required,max=8192"`
	IV            string `json:"iv" validate:"required,max=64"`
}

type trackResponse struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Unknown    int `json:"unknown"`
	Groups     int `json:"groups"`
	Singles    int `json:"singles"` // group-enter data that named a one-to-one chat
	Refused    int `json:"refused"` // group-enter data that did not decrypt or was another mini-program's
}

// POST /api/v1/shop/track — a signed-in shopper, or a visitor with X-Anon-Id.
func (a *API) track(c echo.Context) error {
	v := attribution.Visitor{AnonID: anonID(c)}
	if p, ok := principal(c); ok {
		if p.Kind != identity.SubjectShopper {
			return domain.ErrForbidden.WithMessage("This route is for shoppers.")
		}
		v.ShopperID = p.ID
	}
	if v.ShopperID == 0 && v.AnonID == "" {
		return domain.ErrUnauthorized.WithMessage("Sign in or send X-Anon-Id (8 to 64 characters).")
	}
	var req trackRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	evs := make([]attribution.Event, len(req.Events))
	for i, e := range req.Events {
		evs[i] = attribution.Event{ID: e.ID, Code: e.Code, Scene: e.Scene, Path: e.Path, At: e.At}
		if e.GroupInfo != nil {
			evs[i].Group = &attribution.GroupInfo{EncryptedData: e.GroupInfo.EncryptedData, IV: e.GroupInfo.IV}
		}
	}
	r, err := a.deps.Attribution.Track(c.Request().Context(), v, evs)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, trackResponse{Accepted: r.Accepted, Duplicates: r.Duplicates, Unknown: r.Unknown, Groups: r.Groups,
		Singles: r.Singles, Refused: r.Refused})
}

// --- touchpoints ---

type touchpointDTO struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Name         string    `json:"name"`
	PostKind     string    `json:"post_kind,omitempty"`
	Tags         []string  `json:"tags"`
	OwnerStoreID int64     `json:"owner_store_id,omitempty"`
	OwnerKOCID   int64     `json:"owner_koc_id,omitempty"`
	ShopperID    int64     `json:"shopper_id,omitempty"`
	StoreID      int64     `json:"store_id,omitempty"`
	StaffID      int64     `json:"staff_id,omitempty"`
	FromGroupID  bool      `json:"from_group_enter,omitempty"`
	Archived     bool      `json:"archived"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toTouchpointDTO(t attribution.TouchpointInfo) touchpointDTO {
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	return touchpointDTO{ID: t.ID, Kind: string(t.Kind), Name: t.Name, PostKind: string(t.PostKind), Tags: tags,
		OwnerStoreID: t.OwnerStoreID, OwnerKOCID: t.OwnerKOCID, ShopperID: t.ShopperID, StoreID: t.StoreID, StaffID: t.StaffID,
		FromGroupID: t.HasOpenGID, Archived: t.Archived, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

type createTouchpointRequest struct {
	Kind         string   `json:"kind" validate:"required,oneof=group post"`
	Name         string   `json:"name" validate:"max=100"`
	PostKind     string   `json:"post_kind"`
	Tags         []string `json:"tags" validate:"max=20"`
	OwnerStoreID int64    `json:"owner_store_id" validate:"gte=0"`
	OwnerKOCID   int64    `json:"owner_koc_id" validate:"gte=0"`
}

// POST /api/v1/admin/touchpoints
func (a *API) createTouchpoint(c echo.Context) error {
	var req createTouchpointRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	tp, err := a.deps.Attribution.CreateTouchpoint(c.Request().Context(), actor(c), requestID(c), attribution.TouchpointInfo{
		Kind: attribution.TouchpointKind(req.Kind), Name: req.Name, PostKind: attribution.PostKind(req.PostKind), Tags: req.Tags,
		OwnerStoreID: req.OwnerStoreID, OwnerKOCID: req.OwnerKOCID})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toTouchpointDTO(tp))
}

type patchTouchpointRequest struct {
	Name         *string   `json:"name" validate:"omitempty,max=100"`
	PostKind     *string   `json:"post_kind"`
	Tags         *[]string `json:"tags"`
	OwnerStoreID *int64    `json:"owner_store_id" validate:"omitempty,gte=0"`
	OwnerKOCID   *int64    `json:"owner_koc_id" validate:"omitempty,gte=0"`
	Archived     *bool     `json:"archived"`
}

// PATCH /api/v1/admin/touchpoints/{id}
func (a *API) patchTouchpoint(c echo.Context) error {
	var req patchTouchpointRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	p := attribution.TouchpointPatch{Name: req.Name, Tags: req.Tags, OwnerStoreID: req.OwnerStoreID, OwnerKOCID: req.OwnerKOCID, Archived: req.Archived}
	if req.PostKind != nil {
		k := attribution.PostKind(*req.PostKind)
		p.PostKind = &k
	}
	tp, err := a.deps.Attribution.UpdateTouchpoint(c.Request().Context(), actor(c), requestID(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTouchpointDTO(tp))
}

// GET /api/v1/admin/touchpoints/{id}
func (a *API) getTouchpoint(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	tp, err := a.deps.Attribution.Touchpoint(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTouchpointDTO(tp))
}

// GET /api/v1/admin/touchpoints?kind&cursor&limit
func (a *API) listTouchpoints(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	tps, next, err := a.deps.Attribution.ListTouchpoints(c.Request().Context(), attribution.TouchpointKind(c.QueryParam("kind")), page)
	if err != nil {
		return err
	}
	out := convertAll(tps, toTouchpointDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// --- settings ---

type settingsDTO struct {
	Model           string `json:"model"`
	LookbackSeconds int64  `json:"lookback_seconds"`
	HalfLifeSeconds int64  `json:"half_life_seconds"`
}

type settingsRequest struct {
	Model           string `json:"model"`
	LookbackSeconds int64  `json:"lookback_seconds" validate:"gte=0"`
	HalfLifeSeconds int64  `json:"half_life_seconds" validate:"gte=0"`
}

func toSettingsDTO(s attribution.Settings) settingsDTO {
	return settingsDTO{Model: string(s.Model), LookbackSeconds: int64(s.Lookback / time.Second), HalfLifeSeconds: int64(s.HalfLife / time.Second)}
}

// GET /api/v1/admin/attribution/settings
func (a *API) getAttributionSettings(c echo.Context) error {
	s, err := a.deps.Attribution.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettingsDTO(s))
}

// PUT /api/v1/admin/attribution/settings — fields left out (or 0) keep their value.
func (a *API) putAttributionSettings(c echo.Context) error {
	var req settingsRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.deps.Attribution.UpdateSettings(c.Request().Context(), actor(c), requestID(c), attribution.Settings{
		Model: attribution.Model(req.Model), Lookback: time.Duration(req.LookbackSeconds) * time.Second,
		HalfLife: time.Duration(req.HalfLifeSeconds) * time.Second})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toSettingsDTO(s))
}
