package mpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/catalog"
)

// --- DTOs ---

type categoryDTO struct {
	ID       int64         `json:"id"`
	ParentID int64         `json:"parent_id"`
	Name     string        `json:"name"`
	Sort     int           `json:"sort"`
	Children []categoryDTO `json:"children"`
}

func toCategoryDTO(c catalog.Category) categoryDTO {
	out := categoryDTO{ID: c.ID, ParentID: c.ParentID, Name: c.Name, Sort: c.Sort, Children: []categoryDTO{}}
	for _, k := range c.Children {
		out.Children = append(out.Children, toCategoryDTO(k))
	}
	return out
}

type specDimDTO struct {
	Name   string   `json:"name" validate:"required,max=20"`
	Values []string `json:"values" validate:"required,min=1,max=30"`
}

func toSpecDTOs(ds []catalog.SpecDim) []specDimDTO {
	out := make([]specDimDTO, len(ds))
	for i, d := range ds {
		out[i] = specDimDTO{Name: d.Name, Values: d.Values}
	}
	return out
}

func fromSpecDTOs(ds []specDimDTO) []catalog.SpecDim {
	out := make([]catalog.SpecDim, len(ds))
	for i, d := range ds {
		out[i] = catalog.SpecDim{Name: d.Name, Values: d.Values}
	}
	return out
}

// shopSKUDTO is a SKU as a shopper sees it: a stock state, never a count.
type shopSKUDTO struct {
	ID            int64             `json:"id"`
	Specs         map[string]string `json:"specs"`
	PriceFen      int64             `json:"price_fen"`
	ListPriceFen  int64             `json:"list_price_fen"`
	StockState    string            `json:"stock_state"`
	PerOrderLimit int               `json:"per_order_limit"`
	// MemberPriceFen is what a signed-in member pays (membership).
	MemberPriceFen *int64 `json:"member_price_fen,omitempty"`
}

type shopProductDTO struct {
	ID          int64        `json:"id"`
	CategoryID  int64        `json:"category_id"`
	Title       string       `json:"title"`
	Subtitle    string       `json:"subtitle"`
	Description string       `json:"description"`
	Images      []string     `json:"images"`
	Tags        []string     `json:"tags"`
	Specs       []specDimDTO `json:"specs"`
	MinPriceFen int64        `json:"min_price_fen"`
	StockState  string       `json:"stock_state"`
	SKUs        []shopSKUDTO `json:"skus"`
	// Campaign: running and upcoming flash-sale prices (absent when none).
	Campaign *productCampaignDTO `json:"campaign,omitempty"`
}

type shopProductItemDTO struct {
	ID          int64    `json:"id"`
	CategoryID  int64    `json:"category_id"`
	Title       string   `json:"title"`
	Subtitle    string   `json:"subtitle"`
	Image       string   `json:"image"`
	Tags        []string `json:"tags"`
	MinPriceFen int64    `json:"min_price_fen"`
	// MemberPriceFen is the signed-in member's lowest price among the
	// on-sale SKUs (absent for others).
	MemberPriceFen *int64 `json:"member_price_fen,omitempty"`
	StockState     string `json:"stock_state"`
	// Campaign: running and upcoming flash-sale prices (absent when none).
	Campaign *productCampaignDTO `json:"campaign,omitempty"`
}

func firstImage(imgs []string) string {
	if len(imgs) == 0 {
		return ""
	}
	return imgs[0]
}

func (a *API) toShopProductItem(p catalog.Product) shopProductItemDTO {
	return shopProductItemDTO{ID: p.ID, CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle,
		Image: firstImage(p.Images), Tags: p.Tags, MinPriceFen: int64(p.MinPrice),
		StockState: string(a.deps.Catalog.StockState(p.Available))}
}

func (a *API) toShopProduct(p catalog.Product) shopProductDTO {
	out := shopProductDTO{ID: p.ID, CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle,
		Description: p.Description, Images: p.Images, Tags: p.Tags, Specs: toSpecDTOs(p.Specs),
		MinPriceFen: int64(p.MinPrice), SKUs: make([]shopSKUDTO, len(p.SKUs))}
	total := 0
	for i, k := range p.SKUs {
		total += k.Stock
		out.SKUs[i] = shopSKUDTO{ID: k.ID, Specs: k.Specs, PriceFen: int64(k.Price), ListPriceFen: int64(k.ListPrice),
			StockState: string(a.deps.Catalog.StockState(k.Stock)), PerOrderLimit: k.PerOrderLimit}
	}
	out.StockState = string(a.deps.Catalog.StockState(total))
	return out
}

// adminSKUDTO is a SKU with its counters.
type adminSKUDTO struct {
	ID            int64             `json:"id"`
	ProductID     int64             `json:"product_id"`
	Code          string            `json:"code"`
	Specs         map[string]string `json:"specs"`
	PriceFen      int64             `json:"price_fen"`
	ListPriceFen  int64             `json:"list_price_fen"`
	Stock         int               `json:"stock"`
	Reserved      int               `json:"reserved"`
	Sold          int               `json:"sold"`
	PerOrderLimit int               `json:"per_order_limit"`
	Status        string            `json:"status"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

func toAdminSKU(k catalog.SKU) adminSKUDTO {
	return adminSKUDTO{ID: k.ID, ProductID: k.ProductID, Code: k.Code, Specs: k.Specs, PriceFen: int64(k.Price),
		ListPriceFen: int64(k.ListPrice), Stock: k.Stock, Reserved: k.Reserved, Sold: k.Sold,
		PerOrderLimit: k.PerOrderLimit, Status: string(k.Status), UpdatedAt: k.UpdatedAt}
}

type adminProductDTO struct {
	ID          int64         `json:"id"`
	CategoryID  int64         `json:"category_id"`
	Title       string        `json:"title"`
	Subtitle    string        `json:"subtitle"`
	Description string        `json:"description,omitempty"`
	Images      []string      `json:"images"`
	Tags        []string      `json:"tags"`
	Specs       []specDimDTO  `json:"specs"`
	Status      string        `json:"status"`
	SortWeight  int           `json:"sort_weight"`
	Sales       int64         `json:"sales"`
	MinPriceFen int64         `json:"min_price_fen"`
	Available   *int          `json:"available,omitempty"`
	SKUs        []adminSKUDTO `json:"skus,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

func toAdminProduct(p catalog.Product, withSKUs bool) adminProductDTO {
	out := adminProductDTO{ID: p.ID, CategoryID: p.CategoryID, Title: p.Title, Subtitle: p.Subtitle,
		Description: p.Description, Images: p.Images, Tags: p.Tags, Specs: toSpecDTOs(p.Specs), Status: string(p.Status),
		SortWeight: p.SortWeight, Sales: p.Sales, MinPriceFen: int64(p.MinPrice), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if withSKUs {
		out.SKUs = make([]adminSKUDTO, len(p.SKUs))
		for i, k := range p.SKUs {
			out.SKUs[i] = toAdminSKU(k)
		}
	} else {
		n := p.Available
		out.Available = &n
	}
	return out
}

type ledgerDTO struct {
	ID            int64     `json:"id"`
	SKUID         int64     `json:"sku_id"`
	Kind          string    `json:"kind"`
	Delta         int       `json:"delta"`
	ReservedDelta int       `json:"reserved_delta"`
	SoldDelta     int       `json:"sold_delta"`
	Ref           string    `json:"ref"`
	Actor         string    `json:"actor"`
	Note          string    `json:"note"`
	At            time.Time `json:"at"`
}

func toLedgerDTO(e catalog.LedgerEntry) ledgerDTO {
	return ledgerDTO{ID: e.ID, SKUID: e.SKUID, Kind: string(e.Kind), Delta: e.Delta, ReservedDelta: e.ReservedDelta,
		SoldDelta: e.SoldDelta, Ref: e.Ref, Actor: e.Actor, Note: e.Note, At: e.At}
}

// listQueryOf reads category_id, q, sort, cursor and limit.
func listQueryOf(c echo.Context) (catalog.ListQuery, error) {
	page, err := pageOf(c)
	if err != nil {
		return catalog.ListQuery{}, err
	}
	q := catalog.ListQuery{Text: c.QueryParam("q"), Sort: catalog.Sort(c.QueryParam("sort")), Page: page,
		Status: catalog.ProductStatus(c.QueryParam("status"))}
	if s := c.QueryParam("category_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return q, domain.Invalid(domain.FieldError{Field: "category_id", Code: "format", Message: "must be a positive integer"})
		}
		q.CategoryID = n
	}
	return q, nil
}

// --- shopper routes ---

// GET /api/v1/shop/categories
func (a *API) shopCategories(c echo.Context) error {
	tree, err := a.deps.Catalog.Categories(c.Request().Context())
	if err != nil {
		return err
	}
	out := convertAll(tree, toCategoryDTO)
	return c.JSON(http.StatusOK, newList(out, ""))
}

// GET /api/v1/shop/products?category_id&q&sort&cursor&limit
//
// The page (products, stock states, flash-sale prices) comes from the read
// cache while the catalog is unchanged; a signed-in member's prices are
// added per request.
func (a *API) shopProducts(c echo.Context) error {
	q, err := listQueryOf(c)
	if err != nil {
		return err
	}
	q.Status = ""
	q.OnSaleOnly = true
	key := fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%d", q.CategoryID, q.Text, q.Sort, q.Page.Cursor, q.Page.Limit)
	pg, err := a.shop.list(c.Request().Context(), key, func(ctx context.Context) (shopPage, time.Time, error) {
		return a.fillShopList(ctx, q)
	})
	if err != nil {
		return err
	}
	if !a.memberPricesApply(c) {
		return c.JSONBlob(http.StatusOK, pg.body)
	}
	out := append([]shopProductItemDTO(nil), pg.items...)
	ids := make([]int64, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	if err := a.listMemberPrices(c, ids, out); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(out, pg.next))
}

// fillShopList reads one page of the shop's product list.
func (a *API) fillShopList(ctx context.Context, q catalog.ListQuery) (shopPage, time.Time, error) {
	ps, next, err := a.deps.Catalog.List(ctx, q)
	if err != nil {
		return shopPage{}, time.Time{}, err
	}
	out := make([]shopProductItemDTO, len(ps))
	ids := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = a.toShopProductItem(p)
		ids[i] = p.ID
	}
	cps, err := a.campaignPrices(ctx, ids)
	if err != nil {
		return shopPage{}, time.Time{}, err
	}
	var until time.Time
	for i := range out {
		out[i].Campaign = cps[out[i].ID]
		until = earliest(until, out[i].Campaign.changesAt())
	}
	pg := shopPage{items: out, next: next}
	if pg.body, err = json.Marshal(newList(out, next)); err != nil {
		return shopPage{}, time.Time{}, err
	}
	return pg, until, nil
}

// GET /api/v1/shop/products/{id}
func (a *API) shopProduct(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	d, err := a.shop.detail(c.Request().Context(), strconv.FormatInt(id, 10), func(ctx context.Context) (shopDetail, time.Time, error) {
		return a.fillShopProduct(ctx, id)
	})
	if err != nil {
		return err
	}
	if !a.memberPricesApply(c) {
		return c.JSONBlob(http.StatusOK, d.body)
	}
	mp, err := a.memberPrices(c, d.list)
	if err != nil {
		return err
	}
	out := d.dto
	out.SKUs = append([]shopSKUDTO(nil), d.dto.SKUs...)
	for i := range out.SKUs {
		if v, ok := mp[out.SKUs[i].ID]; ok {
			f := int64(v)
			out.SKUs[i].MemberPriceFen = &f
		}
	}
	return c.JSON(http.StatusOK, out)
}

// fillShopProduct reads one product's shop page.
func (a *API) fillShopProduct(ctx context.Context, id int64) (shopDetail, time.Time, error) {
	p, err := a.deps.Catalog.ShopProduct(ctx, id)
	if err != nil {
		return shopDetail{}, time.Time{}, err
	}
	cps, err := a.campaignPrices(ctx, []int64{id})
	if err != nil {
		return shopDetail{}, time.Time{}, err
	}
	d := shopDetail{dto: a.toShopProduct(p), list: make(map[int64]domain.Fen, len(p.SKUs))}
	d.dto.Campaign = cps[id]
	for _, k := range p.SKUs {
		d.list[k.ID] = k.Price
	}
	if d.body, err = json.Marshal(d.dto); err != nil {
		return shopDetail{}, time.Time{}, err
	}
	return d, d.dto.Campaign.changesAt(), nil
}

// --- admin: categories ---

type categoryRequest struct {
	ParentID int64  `json:"parent_id" validate:"gte=0"`
	Name     string `json:"name" validate:"required,max=50"`
	Sort     int    `json:"sort"`
}

// GET /api/v1/admin/categories
func (a *API) adminCategories(c echo.Context) error { return a.shopCategories(c) }

// POST /api/v1/admin/categories
func (a *API) createCategory(c echo.Context) error {
	var req categoryRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	cat, err := a.deps.Catalog.CreateCategory(c.Request().Context(), actor(c),
		catalog.Category{ParentID: req.ParentID, Name: req.Name, Sort: req.Sort})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toCategoryDTO(cat))
}

// PUT /api/v1/admin/categories/{id}
func (a *API) updateCategory(c echo.Context) error {
	var req categoryRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	cat, err := a.deps.Catalog.UpdateCategory(c.Request().Context(), actor(c),
		catalog.Category{ID: id, ParentID: req.ParentID, Name: req.Name, Sort: req.Sort})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toCategoryDTO(cat))
}

// DELETE /api/v1/admin/categories/{id}
func (a *API) deleteCategory(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.deps.Catalog.DeleteCategory(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- admin: products ---

type skuRequest struct {
	Code          string            `json:"code" validate:"required,max=64"`
	Specs         map[string]string `json:"specs"`
	PriceFen      int64             `json:"price_fen" validate:"gt=0"`
	ListPriceFen  int64             `json:"list_price_fen" validate:"gte=0"`
	PerOrderLimit int               `json:"per_order_limit" validate:"gte=0"`
	Status        string            `json:"status" validate:"omitempty,oneof=on_sale off_sale"`
	InitialStock  int               `json:"initial_stock" validate:"gte=0,lte=1000000"`
}

func (r skuRequest) toNewSKU() catalog.NewSKU {
	return catalog.NewSKU{SKU: catalog.SKU{Code: r.Code, Specs: r.Specs, Price: domain.Fen(r.PriceFen),
		ListPrice: domain.Fen(r.ListPriceFen), PerOrderLimit: r.PerOrderLimit, Status: catalog.SKUStatus(r.Status)},
		InitialStock: r.InitialStock}
}

type createProductRequest struct {
	CategoryID  int64        `json:"category_id" validate:"required,gt=0"`
	Title       string       `json:"title" validate:"required,max=120"`
	Subtitle    string       `json:"subtitle" validate:"max=200"`
	Description string       `json:"description" validate:"max=10000"`
	Images      []string     `json:"images" validate:"max=9"`
	Tags        []string     `json:"tags" validate:"max=10"`
	Specs       []specDimDTO `json:"specs" validate:"max=3,dive"`
	Status      string       `json:"status" validate:"omitempty,oneof=draft on_sale off_sale"`
	SortWeight  int          `json:"sort_weight"`
	SKUs        []skuRequest `json:"skus" validate:"max=200,dive"`
}

// POST /api/v1/admin/products
func (a *API) createProduct(c echo.Context) error {
	var req createProductRequest
	if err := a.bindJSON(c, &req); err != nil {
		return err
	}
	p := catalog.Product{CategoryID: req.CategoryID, Title: req.Title, Subtitle: req.Subtitle, Description: req.Description,
		Images: req.Images, Tags: req.Tags, Specs: fromSpecDTOs(req.Specs), Status: catalog.ProductStatus(req.Status),
		SortWeight: req.SortWeight}
	skus := make([]catalog.NewSKU, len(req.SKUs))
	for i, s := range req.SKUs {
		skus[i] = s.toNewSKU()
	}
	out, err := a.deps.Catalog.CreateProduct(c.Request().Context(), actor(c), p, skus)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAdminProduct(out, true))
}

// GET /api/v1/admin/products?status&category_id&q&sort&cursor&limit
func (a *API) adminProducts(c echo.Context) error {
	q, err := listQueryOf(c)
	if err != nil {
		return err
	}
	ps, next, err := a.deps.Catalog.List(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]adminProductDTO, len(ps))
	for i, p := range ps {
		out[i] = toAdminProduct(p, false)
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

// GET /api/v1/admin/products/{id}
func (a *API) adminProduct(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p, err := a.deps.Catalog.Product(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminProduct(p, true))
}

type patchProductRequest struct {
	CategoryID  *int64        `json:"category_id" validate:"omitempty,gt=0"`
	Title       *string       `json:"title" validate:"omitempty,max=120"`
	Subtitle    *string       `json:"subtitle" validate:"omitempty,max=200"`
	Description *string       `json:"description" validate:"omitempty,max=10000"`
	Images      *[]string     `json:"images" validate:"omitempty,max=9"`
	Tags        *[]string     `json:"tags" validate:"omitempty,max=10"`
	Specs       *[]specDimDTO `json:"specs" validate:"omitempty,max=3,dive"`
	SortWeight  *int          `json:"sort_weight"`
}

// PATCH /api/v1/admin/products/{id}
func (a *API) patchProduct(c echo.Context) error {
	var req patchProductRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	patch := catalog.ProductPatch{CategoryID: req.CategoryID, Title: req.Title, Subtitle: req.Subtitle,
		Description: req.Description, Images: req.Images, Tags: req.Tags, SortWeight: req.SortWeight}
	if req.Specs != nil {
		s := fromSpecDTOs(*req.Specs)
		patch.Specs = &s
	}
	p, err := a.deps.Catalog.UpdateProduct(c.Request().Context(), actor(c), id, patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminProduct(p, true))
}

type productStatusRequest struct {
	Status string `json:"status" validate:"required,oneof=draft on_sale off_sale"`
}

// POST /api/v1/admin/products/{id}/status
func (a *API) setProductStatus(c echo.Context) error {
	var req productStatusRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	p, err := a.deps.Catalog.SetProductStatus(c.Request().Context(), actor(c), id, catalog.ProductStatus(req.Status))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminProduct(p, true))
}

// DELETE /api/v1/admin/products/{id}
func (a *API) deleteProduct(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.deps.Catalog.DeleteProduct(c.Request().Context(), actor(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- admin: SKUs and stock ---

// POST /api/v1/admin/products/{id}/skus
func (a *API) createSKU(c echo.Context) error {
	var req skuRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	k, err := a.deps.Catalog.CreateSKU(c.Request().Context(), actor(c), id, req.toNewSKU())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toAdminSKU(k))
}

type patchSKURequest struct {
	Code          *string            `json:"code" validate:"omitempty,max=64"`
	Specs         *map[string]string `json:"specs"`
	PriceFen      *int64             `json:"price_fen" validate:"omitempty,gt=0"`
	ListPriceFen  *int64             `json:"list_price_fen" validate:"omitempty,gte=0"`
	PerOrderLimit *int               `json:"per_order_limit" validate:"omitempty,gte=0"`
	Status        *string            `json:"status" validate:"omitempty,oneof=on_sale off_sale"`
}

// PATCH /api/v1/admin/skus/{id}
func (a *API) patchSKU(c echo.Context) error {
	var req patchSKURequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	patch := catalog.SKUPatch{Code: req.Code, Specs: req.Specs, PerOrderLimit: req.PerOrderLimit}
	if req.PriceFen != nil {
		f := domain.Fen(*req.PriceFen)
		patch.Price = &f
	}
	if req.ListPriceFen != nil {
		f := domain.Fen(*req.ListPriceFen)
		patch.ListPrice = &f
	}
	if req.Status != nil {
		s := catalog.SKUStatus(*req.Status)
		patch.Status = &s
	}
	k, err := a.deps.Catalog.UpdateSKU(c.Request().Context(), actor(c), id, patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAdminSKU(k))
}

type adjustmentRequest struct {
	Kind     string `json:"kind" validate:"required,oneof=receive correct damage"`
	Quantity int    `json:"quantity" validate:"required"`
	Note     string `json:"note" validate:"max=200"`
}

// POST /api/v1/admin/skus/{id}/stock-adjustments
func (a *API) adjustStock(c echo.Context) error {
	var req adjustmentRequest
	id, err := a.bindWithID(c, "id", &req)
	if err != nil {
		return err
	}
	e, err := a.deps.Catalog.AdjustStock(c.Request().Context(), actor(c), id,
		catalog.Adjustment{Kind: catalog.StockKind(req.Kind), Quantity: req.Quantity, Note: req.Note})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toLedgerDTO(e))
}

// GET /api/v1/admin/skus/{id}/stock-ledger?cursor&limit
func (a *API) stockLedger(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	es, next, err := a.deps.Catalog.Ledger(c.Request().Context(), id, page)
	if err != nil {
		return err
	}
	out := convertAll(es, toLedgerDTO)
	return c.JSON(http.StatusOK, newList(out, next))
}

// listMemberPrices sets, for a signed-in member, each listed product's
// lowest member price among its on-sale SKUs.
func (a *API) listMemberPrices(c echo.Context, ids []int64, out []shopProductItemDTO) error {
	if !a.memberPricesApply(c) {
		return nil
	}
	prices, err := a.deps.Catalog.OnSalePrices(c.Request().Context(), ids)
	if err != nil {
		return err
	}
	list := make(map[int64]domain.Fen, len(prices))
	for id, sp := range prices {
		list[id] = sp.Price
	}
	mp, err := a.memberPrices(c, list)
	if err != nil || mp == nil {
		return err
	}
	low := map[int64]int64{}
	for id, v := range mp {
		pid := prices[id].ProductID
		if cur, ok := low[pid]; !ok || int64(v) < cur {
			low[pid] = int64(v)
		}
	}
	for i := range out {
		if v, ok := low[out[i].ID]; ok {
			out[i].MemberPriceFen = &v
		}
	}
	return nil
}
