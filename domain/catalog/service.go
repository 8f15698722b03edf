package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yutang/yutang/domain"
)

// Store is what the catalog needs from the database. Reads of a product
// with forUpdate lock its row until the transaction ends, so changes to one
// product (and its SKUs) are serialised.
type Store interface {
	// InTx runs fn with a Store bound to one transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Audit records an admin write in the current transaction.
	Audit(ctx context.Context, e domain.AuditEntry) error

	Categories(ctx context.Context) ([]Category, error)
	Category(ctx context.Context, id int64) (Category, error)
	// Ancestors returns the ids from id's parent up to its root, holding
	// the tree still until the transaction ends.
	Ancestors(ctx context.Context, id int64) ([]int64, error)
	CreateCategory(ctx context.Context, c Category, at time.Time) (Category, error)
	UpdateCategory(ctx context.Context, c Category, at time.Time) (Category, error)
	// DeleteCategory fails with ErrCategoryNotEmpty while it has children or products.
	DeleteCategory(ctx context.Context, id int64) error

	// Product loads a product with all its SKUs.
	Product(ctx context.Context, id int64, forUpdate bool) (Product, error)
	CreateProduct(ctx context.Context, p Product, at time.Time) (Product, error)
	// UpdateProduct saves the product's own fields (not its SKUs) and
	// recomputes its cheapest on-sale price.
	UpdateProduct(ctx context.Context, p Product, at time.Time) (Product, error)
	// DeleteProduct removes a product and its SKUs; it fails with
	// ErrProductInUse when stock ever moved or an order refers to it.
	DeleteProduct(ctx context.Context, id int64) error
	// CreateSKU and UpdateSKU fail with ErrSKUCodeTaken on a duplicate code.
	CreateSKU(ctx context.Context, s SKU, at time.Time) (SKU, error)
	UpdateSKU(ctx context.Context, s SKU, at time.Time) (SKU, error)
	SKU(ctx context.Context, id int64) (SKU, error)
	ListProducts(ctx context.Context, q ListQuery) ([]Product, string, error)
	// OnSalePrices returns the list price of every on-sale SKU of these
	// products, by SKU id, with the product each belongs to.
	OnSalePrices(ctx context.Context, productIDs []int64) (map[int64]SKUPrice, error)

	// AdjustStock applies a manual stock change through the ledger; it fails
	// with ErrOutOfStock when it would take stock below zero.
	AdjustStock(ctx context.Context, skuID int64, a Adjustment, actor domain.Actor, at time.Time) (LedgerEntry, error)
	Ledger(ctx context.Context, skuID int64, page domain.Page) ([]LedgerEntry, string, error)
}

// ErrProductInUse refuses to delete a product that has history.
var ErrProductInUse = domain.E(domain.KindConflict, "product_in_use",
	"The product has stock history or orders; take it off sale instead of deleting it.")

// Service holds the catalog's use cases.
type Service struct {
	Store Store
	Now   func() time.Time
	// LowStock is the stock at or under which shoppers see "low"
	// (DefaultLowStock when 0).
	LowStock int
}

func (s *Service) now() time.Time { return domain.Clock(s.Now).Now() }

// StockState is the shopper's view of a SKU's stock.
func (s *Service) StockState(stock int) StockState {
	low := s.LowStock
	if low <= 0 {
		low = DefaultLowStock
	}
	return StockStateOf(stock, low)
}

func audit(actor domain.Actor, action, entity string, id int64, before, after any, at time.Time) domain.AuditEntry {
	return domain.AuditEntry{Actor: actor, Action: action, Entity: entity, EntityID: strconv.FormatInt(id, 10),
		Before: before, After: after, At: at}
}

// --- categories ---

// Categories returns the category tree.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	flat, err := s.Store.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: categories: %w", err)
	}
	return Tree(flat), nil
}

// CreateCategory adds a category under c.ParentID (0: a root).
func (s *Service) CreateCategory(ctx context.Context, actor domain.Actor, c Category) (Category, error) {
	c.Name = strings.TrimSpace(c.Name)
	if fs := ValidateCategory(c); len(fs) > 0 {
		return Category{}, domain.Invalid(fs...)
	}
	at := s.now()
	var out Category
	err := s.Store.InTx(ctx, func(tx Store) error {
		if c.ParentID != 0 {
			if _, err := tx.Category(ctx, c.ParentID); err != nil {
				return err
			}
		}
		var err error
		if out, err = tx.CreateCategory(ctx, c, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "category.create", "category", out.ID, nil, out, at))
	})
	return out, err
}

// UpdateCategory renames, reorders or moves a category; it refuses to move a
// category under itself or its descendants.
func (s *Service) UpdateCategory(ctx context.Context, actor domain.Actor, c Category) (Category, error) {
	c.Name = strings.TrimSpace(c.Name)
	if fs := ValidateCategory(c); len(fs) > 0 {
		return Category{}, domain.Invalid(fs...)
	}
	at := s.now()
	var out Category
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Category(ctx, c.ID)
		if err != nil {
			return err
		}
		if c.ParentID != 0 {
			if c.ParentID == c.ID {
				return ErrCategoryCycle
			}
			up, err := tx.Ancestors(ctx, c.ParentID)
			if err != nil {
				return err
			}
			if slices.Contains(up, c.ID) {
				return ErrCategoryCycle
			}
		}
		if out, err = tx.UpdateCategory(ctx, c, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "category.update", "category", c.ID, before, out, at))
	})
	return out, err
}

// DeleteCategory removes an empty category.
func (s *Service) DeleteCategory(ctx context.Context, actor domain.Actor, id int64) error {
	at := s.now()
	return s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Category(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteCategory(ctx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "category.delete", "category", id, before, nil, at))
	})
}

// --- products ---

// ProductPatch changes some fields of a product; nil fields stay.
type ProductPatch struct {
	CategoryID  *int64
	Title       *string
	Subtitle    *string
	Description *string
	Images      *[]string
	Tags        *[]string
	Specs       *[]SpecDim
	SortWeight  *int
	Status      *ProductStatus
}

// Apply returns p with the patch applied.
func (pp ProductPatch) Apply(p Product) Product {
	set(&p.CategoryID, pp.CategoryID)
	set(&p.Title, pp.Title)
	set(&p.Subtitle, pp.Subtitle)
	set(&p.Description, pp.Description)
	if pp.Images != nil {
		p.Images = slices.Clone(*pp.Images)
	}
	if pp.Tags != nil {
		p.Tags = slices.Clone(*pp.Tags)
	}
	if pp.Specs != nil {
		p.Specs = cloneSpecs(*pp.Specs)
	}
	set(&p.SortWeight, pp.SortWeight)
	set(&p.Status, pp.Status)
	return p
}

// set stores *src in *dst when src is set: a patch's nil field stays.
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func cloneSpecs(ds []SpecDim) []SpecDim {
	out := make([]SpecDim, len(ds))
	for i, d := range ds {
		out[i] = SpecDim{Name: d.Name, Values: slices.Clone(d.Values)}
	}
	return out
}

// NewSKU is a SKU to create, with the stock it arrives with (recorded in
// the ledger as received).
type NewSKU struct {
	SKU
	InitialStock int
}

// CreateProduct adds a product with its SKUs (optional; a draft may have
// none). A product created on sale needs a SKU on sale.
func (s *Service) CreateProduct(ctx context.Context, actor domain.Actor, p Product, skus []NewSKU) (Product, error) {
	if p.Status == "" {
		p.Status = ProductDraft
	}
	p.Normalize()
	fs := ValidateProduct(p)
	p.SKUs = nil
	for i, ns := range skus {
		if ns.Status == "" {
			ns.Status = SKUOnSale
		}
		skus[i] = ns
		fs = append(fs, ValidateSKU(p, ns.SKU, fmt.Sprintf("skus[%d].", i))...)
		if ns.InitialStock < 0 || ns.InitialStock > MaxAdjustment {
			fs = append(fs, field(fmt.Sprintf("skus[%d].initial_stock", i), "range", fmt.Sprintf("must be from 0 to %d", MaxAdjustment)))
		}
		p.SKUs = append(p.SKUs, ns.SKU)
	}
	if len(fs) > 0 {
		return Product{}, domain.Invalid(fs...)
	}
	if err := CheckSKUs(p); err != nil {
		return Product{}, err
	}
	at := s.now()
	var out Product
	err := s.Store.InTx(ctx, func(tx Store) error {
		if _, err := tx.Category(ctx, p.CategoryID); err != nil {
			return err
		}
		created, err := tx.CreateProduct(ctx, p, at)
		if err != nil {
			return err
		}
		for _, ns := range skus {
			ns.ProductID = created.ID
			sku, err := tx.CreateSKU(ctx, ns.SKU, at)
			if err != nil {
				return err
			}
			if err := receiveInitial(ctx, tx, sku.ID, ns.InitialStock, actor, at); err != nil {
				return err
			}
		}
		if out, err = tx.Product(ctx, created.ID, false); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "product.create", "product", out.ID, nil, out, at))
	})
	return out, err
}

// receiveInitial books a new SKU's initial stock, if any, as a receipt.
func receiveInitial(ctx context.Context, tx Store, skuID int64, n int, actor domain.Actor, at time.Time) error {
	if n <= 0 {
		return nil
	}
	_, err := tx.AdjustStock(ctx, skuID, Adjustment{Kind: StockReceive, Quantity: n, Note: "initial stock"}, actor, at)
	return err
}

// UpdateProduct changes a product's fields, including its status and spec
// dimensions, keeping every rule across its SKUs.
func (s *Service) UpdateProduct(ctx context.Context, actor domain.Actor, id int64, patch ProductPatch) (Product, error) {
	at := s.now()
	var out Product
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Product(ctx, id, true)
		if err != nil {
			return err
		}
		p := patch.Apply(before)
		p.Normalize()
		if fs := ValidateProduct(p); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		if err := CheckSKUs(p); err != nil {
			return err
		}
		if p.CategoryID != before.CategoryID {
			if _, err := tx.Category(ctx, p.CategoryID); err != nil {
				return err
			}
		}
		if out, err = tx.UpdateProduct(ctx, p, at); err != nil {
			return err
		}
		action := "product.update"
		if p.Status != before.Status {
			action = "product.status"
		}
		return tx.Audit(ctx, audit(actor, action, "product", id, before, out, at))
	})
	return out, err
}

// SetProductStatus puts a product on or off sale (or back to draft).
func (s *Service) SetProductStatus(ctx context.Context, actor domain.Actor, id int64, status ProductStatus) (Product, error) {
	return s.UpdateProduct(ctx, actor, id, ProductPatch{Status: &status})
}

// DeleteProduct deletes a product that never moved stock.
func (s *Service) DeleteProduct(ctx context.Context, actor domain.Actor, id int64) error {
	at := s.now()
	return s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.Product(ctx, id, true)
		if err != nil {
			return err
		}
		if before.Status == ProductOnSale {
			return ErrProductInUse.WithMessage("Take the product off sale before deleting it.")
		}
		if err := tx.DeleteProduct(ctx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "product.delete", "product", id, before, nil, at))
	})
}

// SKUPrice is an on-sale SKU's list price and its product.
type SKUPrice struct {
	ProductID int64
	Price     domain.Fen
}

// OnSalePrices returns the list prices of the on-sale SKUs of products (a
// page of the product list), by SKU id: what a member's prices are
// computed from.
func (s *Service) OnSalePrices(ctx context.Context, productIDs []int64) (map[int64]SKUPrice, error) {
	if len(productIDs) == 0 {
		return map[int64]SKUPrice{}, nil
	}
	return s.Store.OnSalePrices(ctx, productIDs)
}

// Product returns a product with all its SKUs (admin view).
func (s *Service) Product(ctx context.Context, id int64) (Product, error) {
	return s.Store.Product(ctx, id, false)
}

// ShopProduct returns a product as a shopper may see it: on sale, with its
// on-sale SKUs only; anything else is ErrProductNotFound.
func (s *Service) ShopProduct(ctx context.Context, id int64) (Product, error) {
	p, err := s.Store.Product(ctx, id, false)
	if err != nil {
		return Product{}, err
	}
	if p.Status != ProductOnSale {
		return Product{}, ErrProductNotFound
	}
	skus := p.SKUs[:0:0]
	for _, k := range p.SKUs {
		if k.Status == SKUOnSale {
			skus = append(skus, k)
		}
	}
	p.SKUs = skus
	return p, nil
}

// MaxSearchLen bounds a search text.
const MaxSearchLen = 50

// List returns a page of products. Shopper lists (OnSaleOnly) never show
// drafts or products off sale.
func (s *Service) List(ctx context.Context, q ListQuery) ([]Product, string, error) {
	q.Text = strings.TrimSpace(q.Text)
	if q.Sort == "" {
		q.Sort = SortDefault
	}
	var fs []domain.FieldError
	if !q.Sort.Valid() {
		fs = append(fs, field("sort", "oneof", "must be one of: default price_asc price_desc newest sales"))
	}
	if utf8Len(q.Text) > MaxSearchLen {
		fs = append(fs, field("q", "max", fmt.Sprintf("must have at most %d characters", MaxSearchLen)))
	}
	if q.Status != "" && !q.Status.Valid() {
		fs = append(fs, field("status", "oneof", "must be one of: draft on_sale off_sale"))
	}
	if q.CategoryID < 0 {
		fs = append(fs, field("category_id", "gte", "must be a category id"))
	}
	if len(fs) > 0 {
		return nil, "", domain.Invalid(fs...)
	}
	if q.OnSaleOnly {
		q.Status = ProductOnSale
	}
	q.Page.Limit = domain.BoundLimit(q.Page.Limit)
	return s.Store.ListProducts(ctx, q)
}

func utf8Len(s string) int { return len([]rune(s)) }

// --- SKUs ---

// SKUPatch changes some fields of a SKU; nil fields stay.
type SKUPatch struct {
	Code          *string
	Specs         *map[string]string
	Price         *domain.Fen
	ListPrice     *domain.Fen
	PerOrderLimit *int
	Status        *SKUStatus
}

// Apply returns k with the patch applied.
func (sp SKUPatch) Apply(k SKU) SKU {
	set(&k.Code, sp.Code)
	set(&k.Specs, sp.Specs)
	set(&k.Price, sp.Price)
	set(&k.ListPrice, sp.ListPrice)
	set(&k.PerOrderLimit, sp.PerOrderLimit)
	set(&k.Status, sp.Status)
	return k
}

// CreateSKU adds a SKU to a product.
func (s *Service) CreateSKU(ctx context.Context, actor domain.Actor, productID int64, ns NewSKU) (SKU, error) {
	if ns.Status == "" {
		ns.Status = SKUOnSale
	}
	if ns.InitialStock < 0 || ns.InitialStock > MaxAdjustment {
		return SKU{}, domain.Invalid(field("initial_stock", "range", fmt.Sprintf("must be from 0 to %d", MaxAdjustment)))
	}
	at := s.now()
	var out SKU
	err := s.Store.InTx(ctx, func(tx Store) error {
		p, err := tx.Product(ctx, productID, true)
		if err != nil {
			return err
		}
		ns.ProductID = productID
		if fs := ValidateSKU(p, ns.SKU, ""); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		p.SKUs = append(p.SKUs, ns.SKU)
		if err := CheckSKUs(p); err != nil {
			return err
		}
		if out, err = tx.CreateSKU(ctx, ns.SKU, at); err != nil {
			return err
		}
		if ns.InitialStock > 0 {
			if err := receiveInitial(ctx, tx, out.ID, ns.InitialStock, actor, at); err != nil {
				return err
			}
			if out, err = tx.SKU(ctx, out.ID); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, audit(actor, "sku.create", "sku", out.ID, nil, out, at))
	})
	return out, err
}

// UpdateSKU changes a SKU's code, specs, prices, limit or status. Taking the
// last on-sale SKU of an on-sale product off sale is refused.
func (s *Service) UpdateSKU(ctx context.Context, actor domain.Actor, skuID int64, patch SKUPatch) (SKU, error) {
	at := s.now()
	var out SKU
	err := s.Store.InTx(ctx, func(tx Store) error {
		k, err := tx.SKU(ctx, skuID)
		if err != nil {
			return err
		}
		p, err := tx.Product(ctx, k.ProductID, true) // locks the product: SKU changes are serialised
		if err != nil {
			return err
		}
		i := slices.IndexFunc(p.SKUs, func(x SKU) bool { return x.ID == skuID })
		if i < 0 {
			return ErrSKUNotFound
		}
		before := p.SKUs[i]
		after := patch.Apply(before)
		if fs := ValidateSKU(p, after, ""); len(fs) > 0 {
			return domain.Invalid(fs...)
		}
		p.SKUs[i] = after
		if err := CheckSKUs(p); err != nil {
			return err
		}
		if out, err = tx.UpdateSKU(ctx, after, at); err != nil {
			return err
		}
		action := "sku.update"
		if before.Price != after.Price || before.ListPrice != after.ListPrice {
			action = "sku.price"
		}
		return tx.Audit(ctx, audit(actor, action, "sku", skuID, before, out, at))
	})
	return out, err
}

// --- stock ---

// AdjustStock receives, corrects or writes off stock of a SKU.
func (s *Service) AdjustStock(ctx context.Context, actor domain.Actor, skuID int64, a Adjustment) (LedgerEntry, error) {
	a.Note = strings.TrimSpace(a.Note)
	if fs := ValidateAdjustment(a); len(fs) > 0 {
		return LedgerEntry{}, domain.Invalid(fs...)
	}
	at := s.now()
	var out LedgerEntry
	err := s.Store.InTx(ctx, func(tx Store) error {
		before, err := tx.SKU(ctx, skuID)
		if err != nil {
			return err
		}
		if out, err = tx.AdjustStock(ctx, skuID, a, actor, at); err != nil {
			return err
		}
		return tx.Audit(ctx, audit(actor, "stock."+string(a.Kind), "sku", skuID,
			map[string]any{"stock": before.Stock},
			map[string]any{"delta": out.Delta, "note": a.Note, "ledger_id": out.ID}, at))
	})
	return out, err
}

// Ledger returns a SKU's stock movements, newest first.
func (s *Service) Ledger(ctx context.Context, skuID int64, page domain.Page) ([]LedgerEntry, string, error) {
	if _, err := s.Store.SKU(ctx, skuID); err != nil {
		return nil, "", err
	}
	page.Limit = domain.BoundLimit(page.Limit)
	return s.Store.Ledger(ctx, skuID, page)
}
