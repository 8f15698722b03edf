package mpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
)

const principalKey = "principal"

// principal returns who the request acts for (set by the auth middleware).
func principal(c echo.Context) (identity.Principal, bool) {
	p, ok := c.Get(principalKey).(identity.Principal)
	return p, ok
}

// actor returns the audited actor of the request.
func actor(c echo.Context) domain.Actor {
	p, _ := principal(c)
	return p.Actor()
}

// anonID returns a sane X-Anon-Id header, or "".
func anonID(c echo.Context) string {
	id := strings.TrimSpace(c.Request().Header.Get("X-Anon-Id"))
	if len(id) < 8 || len(id) > 64 || !validRequestID(id) {
		return ""
	}
	return id
}

func bearer(c echo.Context) string {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate resolves the bearer token, if any. With required, a missing or
// bad token is a 401; without, an anonymous request passes through.
func (a *API) authenticate(required bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok := bearer(c)
			if tok == "" {
				if required {
					return domain.ErrUnauthorized
				}
				return next(c)
			}
			p, err := a.deps.Identity.Authenticate(c.Request().Context(), tok)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// shopperOnly lets shoppers through.
func shopperOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, ok := principal(c)
		if !ok {
			return domain.ErrUnauthorized
		}
		if p.Kind != identity.SubjectShopper {
			return domain.ErrForbidden.WithMessage("This route is for shoppers.")
		}
		return next(c)
	}
}

// staffWith lets staff with one of roles through.
func staffWith(roles ...identity.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := principal(c)
			if !ok {
				return domain.ErrUnauthorized
			}
			if p.Kind != identity.SubjectStaff {
				return domain.ErrForbidden.WithMessage("This route is for staff.")
			}
			for _, r := range roles {
				if p.Role == r {
					return next(c)
				}
			}
			return domain.ErrForbidden.WithMessage("Your role (%s) may not do this.", p.Role)
		}
	}
}

// Role sets used by the routes.
var (
	adminOnly      = []identity.Role{identity.RoleAdmin}
	catalogEditors = []identity.Role{identity.RoleAdmin, identity.RoleMerchandiser}
	operators      = []identity.Role{identity.RoleAdmin, identity.RoleOperator}
	backOffice     = []identity.Role{identity.RoleAdmin, identity.RoleMerchandiser, identity.RoleOperator}
	storeStaff     = []identity.Role{identity.RoleClerk, identity.RoleStoreManager}
	deskStaff      = []identity.Role{identity.RoleClerk, identity.RoleStoreManager, identity.RoleAdmin}
	everyStaff     = []identity.Role{identity.RoleAdmin, identity.RoleMerchandiser, identity.RoleOperator, identity.RoleStoreManager, identity.RoleClerk}
)

type sessionResponse struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
	Shopper   *shopperDTO `json:"shopper,omitempty"`
	Staff     *staffDTO   `json:"staff,omitempty"`
}

type shopperDTO struct {
	ID       int64  `json:"id"`
	Phone    string `json:"phone,omitempty"`
	Nickname string `json:"nickname"`
}

type staffDTO struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
	StoreID  int64  `json:"store_id,omitempty"`
}

func toShopperDTO(s identity.Shopper) *shopperDTO {
	return &shopperDTO{ID: s.ID, Phone: s.Phone, Nickname: s.Nickname}
}

type shopperSessionRequest struct {
	Code string `json:"code" validate:"required,max=128"`
}

// POST /api/v1/shop/session
func (a *API) shopSession(c echo.Context) error {
	var req shopperSessionRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	sess, sh, err := a.deps.Identity.ShopperSignIn(c.Request().Context(), req.Code, anonID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sessionResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt, Shopper: toShopperDTO(sh)})
}

// POST /api/v1/shop/session/phone
func (a *API) shopSessionPhone(c echo.Context) error {
	var req shopperSessionRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p, _ := principal(c)
	sh, err := a.deps.Identity.BindPhone(c.Request().Context(), p.ID, req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toShopperDTO(sh))
}

type staffSessionRequest struct {
	Username string `json:"username" validate:"required,max=40"`
	Password string `json:"password" validate:"required,max=200"`
}

// staffSession signs staff in; the clerk route admits only store staff, the
// admin route only back-office roles.
func (a *API) staffSession(allowed []identity.Role) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req staffSessionRequest
		if err := a.bindJSON(c, &req); err != nil {
			return err
		}
		sess, st, err := a.deps.Identity.StaffSignIn(c.Request().Context(), req.Username, req.Password)
		if err != nil {
			return err
		}
		ok := false
		for _, r := range allowed {
			ok = ok || st.Role == r
		}
		if !ok {
			_ = a.deps.Identity.SignOut(c.Request().Context(), sess.Token)
			return domain.ErrForbidden.WithMessage("Your role (%s) cannot sign in here.", st.Role)
		}
		return c.JSON(http.StatusOK, sessionResponse{Token: sess.Token, ExpiresAt: sess.ExpiresAt,
			Staff: &staffDTO{ID: st.ID, Username: st.Username, Role: string(st.Role), StoreID: st.StoreID}})
	}
}

// DELETE /api/v1/{shop,clerk,admin}/session
func (a *API) signOut(c echo.Context) error {
	if err := a.deps.Identity.SignOut(c.Request().Context(), bearer(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
