package mpapi

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/readcache"
)

// shopPage is a cached page of the shop's product list: its items and the
// encoded answer as anyone not signed in as a member sees it.
type shopPage struct {
	items []shopProductItemDTO
	next  string
	body  []byte
}

// shopDetail is a cached product page, with the SKUs' list prices a member's
// prices are computed from.
type shopDetail struct {
	dto  shopProductDTO
	list map[int64]domain.Fen
	body []byte
}

// shopCaches are the shopper's catalog reads under the catalog's version
// (Deps.CatalogVersion); without one, every read goes to the database.
type shopCaches struct {
	pages   *readcache.Cache[shopPage]
	details *readcache.Cache[shopDetail]
}

// shopCacheEntries bounds each cache (list keys include search text).
const shopCacheEntries = 10000

func newShopCaches(v *readcache.Version) shopCaches {
	if v == nil {
		return shopCaches{}
	}
	return shopCaches{pages: readcache.New[shopPage](v, shopCacheEntries),
		details: readcache.New[shopDetail](v, shopCacheEntries)}
}

func (s shopCaches) list(ctx context.Context, key string, fill func(context.Context) (shopPage, time.Time, error)) (shopPage, error) {
	if s.pages == nil {
		v, _, err := fill(ctx)
		return v, err
	}
	return s.pages.Get(ctx, key, fill)
}

func (s shopCaches) detail(ctx context.Context, key string, fill func(context.Context) (shopDetail, time.Time, error)) (shopDetail, error) {
	if s.details == nil {
		v, _, err := fill(ctx)
		return v, err
	}
	return s.details.Get(ctx, key, fill)
}

// touchVersions makes the next cached read on this instance check the read
// caches' versions (the catalog's, the auth version) after any request that
// may have written: whoever changed something here sees it on their next
// read (a signed-out token is refused at once). A refusal (4xx) wrote
// nothing a cache holds, so it touches nothing: a crowd refused after a
// flash sale's last unit keeps the caches, and the sold-out check's SKUs,
// valid. Were a refusal ever to commit something, this instance would see it
// as late as every other one does, not later.
func (a *API) touchVersions(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status, _ = a.errorResponse(err)
		}
		if m := c.Request().Method; m != "GET" && m != "HEAD" && m != "OPTIONS" && (status < 400 || status >= 500) {
			for _, v := range []*readcache.Version{a.deps.CatalogVersion, a.deps.AuthVersion} {
				if v != nil {
					v.Touch()
				}
			}
		}
		return err
	}
}

// memberPricesApply reports whether a request may see member prices (a
// signed-in shopper, with membership in the mall).
func (a *API) memberPricesApply(c echo.Context) bool {
	p, ok := principal(c)
	return ok && p.Kind == identity.SubjectShopper && a.deps.Members != nil
}

// changesAt is when a product's flash-sale section changes by itself (a
// sale starts or ends); zero when it has none.
func (d *productCampaignDTO) changesAt() time.Time {
	var t time.Time
	if d == nil {
		return t
	}
	for _, p := range d.Running {
		t = earliest(t, p.EndsAt)
	}
	for _, p := range d.Upcoming {
		t = earliest(earliest(t, p.StartsAt), p.EndsAt)
	}
	return t
}

// earliest is the earlier of two times, a zero time meaning "never".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
