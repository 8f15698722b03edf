// Package catalog is what the mall sells: categories (an ordered tree),
// products (SPU) with their spec dimensions, SKUs with prices and stock, and
// the stock ledger. Rules are pure functions; use cases are methods on
// Service; the persistence it needs is the Store interface declared here.
package catalog

import (
	"time"

	"github.com/yutang/yutang/domain"
)

// Category is one node of the category tree. Siblings are ordered by Sort
// (ascending), then by ID.
type Category struct {
	ID        int64
	ParentID  int64 // 0 for a root
	Name      string
	Sort      int
	Children  []Category // filled by Tree
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ProductStatus is where a product is in its life.
type ProductStatus string

const (
	ProductDraft   ProductStatus = "draft"
	ProductOnSale  ProductStatus = "on_sale"
	ProductOffSale ProductStatus = "off_sale"
)

// Valid reports whether s is a known status.
func (s ProductStatus) Valid() bool {
	return s == ProductDraft || s == ProductOnSale || s == ProductOffSale
}

// SKUStatus says whether a SKU may be bought.
type SKUStatus string

const (
	SKUOnSale  SKUStatus = "on_sale"
	SKUOffSale SKUStatus = "off_sale"
)

// Valid reports whether s is a known status.
func (s SKUStatus) Valid() bool { return s == SKUOnSale || s == SKUOffSale }

// SpecDim is one spec dimension of a product ("颜色": 红, 蓝) in display order.
type SpecDim struct {
	Name   string
	Values []string
}

// Product is an SPU: what a shopper sees as one item, sold as its SKUs.
type Product struct {
	ID          int64
	CategoryID  int64
	Title       string
	Subtitle    string
	Description string
	Images      []string
	Tags        []string
	Specs       []SpecDim
	Status      ProductStatus
	SortWeight  int
	Sales       int64      // units sold (net of returns)
	MinPrice    domain.Fen // cheapest on-sale SKU
	Available   int        // available stock of on-sale SKUs (lists only)
	SKUs        []SKU      // in id order, when loaded
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SKU is one buyable combination of spec values.
type SKU struct {
	ID            int64
	ProductID     int64
	Code          string
	Specs         map[string]string // dimension name → value
	Price         domain.Fen
	ListPrice     domain.Fen // 0: none shown
	Stock         int        // available to sell
	Reserved      int        // held by unpaid orders
	Sold          int        // paid
	PerOrderLimit int        // 0: no limit
	Status        SKUStatus
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// StockState is what a shopper is told about stock: never the count.
type StockState string

const (
	InStock  StockState = "in_stock"
	LowStock StockState = "low"
	SoldOut  StockState = "sold_out"
)

// DefaultLowStock is the stock at or under which a SKU shows as "low".
const DefaultLowStock = 5

// StockStateOf tells a shopper's view of stock: sold out at 0, low at or
// under lowAt, else in stock.
func StockStateOf(stock, lowAt int) StockState {
	switch {
	case stock <= 0:
		return SoldOut
	case stock <= lowAt:
		return LowStock
	}
	return InStock
}

// StockKind is the reason of a stock ledger entry.
type StockKind string

const (
	StockReceive StockKind = "receive" // goods in (+)
	StockCorrect StockKind = "correct" // count correction (±)
	StockDamage  StockKind = "damage"  // damaged or lost (−)
	StockReserve StockKind = "reserve" // an unpaid order holds it: available → reserved
	StockRelease StockKind = "release" // the order was cancelled: reserved → available
	StockSale    StockKind = "sale"    // the order was paid: reserved → sold
	StockReturn  StockKind = "return"  // goods came back: sold → available
)

// Adjustment is a manual stock change by staff.
type Adjustment struct {
	Kind     StockKind // receive, correct or damage
	Quantity int       // receive, damage: > 0; correct: the signed change, ≠ 0
	Note     string
}

// Delta is the change of available stock the adjustment makes.
func (a Adjustment) Delta() int {
	if a.Kind == StockDamage {
		return -a.Quantity
	}
	return a.Quantity
}

// LedgerEntry is one stock movement.
type LedgerEntry struct {
	ID            int64
	SKUID         int64
	Kind          StockKind
	Delta         int // change of available stock
	ReservedDelta int
	SoldDelta     int
	Ref           string // order number …
	Actor         string // staff:3, shopper:42, system
	Note          string
	At            time.Time
}

// Sort orders a shopper's product list.
type Sort string

const (
	SortDefault   Sort = "default" // merchandiser's sort weight, then newest
	SortPriceAsc  Sort = "price_asc"
	SortPriceDesc Sort = "price_desc"
	SortNewest    Sort = "newest"
	SortSales     Sort = "sales"
)

// Valid reports whether s is a known sort.
func (s Sort) Valid() bool {
	switch s {
	case SortDefault, SortPriceAsc, SortPriceDesc, SortNewest, SortSales:
		return true
	}
	return false
}

// ListQuery selects products. Shopper lists set OnSaleOnly.
type ListQuery struct {
	CategoryID int64 // 0: all; otherwise the category and its descendants
	Text       string
	Sort       Sort
	Status     ProductStatus // admin filter; "" for all
	OnSaleOnly bool
	Page       domain.Page
}

// Errors.
var (
	ErrOutOfStock       = domain.E(domain.KindConflict, "out_of_stock", "Not enough stock.")
	ErrNotReserved      = domain.E(domain.KindConflict, "stock_not_reserved", "That much stock is not reserved (or not sold) for this SKU.")
	ErrProductNotFound  = domain.E(domain.KindNotFound, "product_not_found", "No such product.")
	ErrSKUNotFound      = domain.E(domain.KindNotFound, "sku_not_found", "No such SKU.")
	ErrCategoryNotFound = domain.E(domain.KindNotFound, "category_not_found", "No such category.")
	ErrCategoryNotEmpty = domain.E(domain.KindConflict, "category_not_empty", "The category still has subcategories or products.")
	ErrCategoryCycle    = domain.E(domain.KindConflict, "category_cycle", "A category cannot be moved under itself or its descendants.")
	ErrSKUCodeTaken     = domain.E(domain.KindConflict, "sku_code_taken", "Another SKU already has this code.")
	ErrSpecsTaken       = domain.E(domain.KindConflict, "sku_specs_taken", "Another SKU of this product already has these spec values.")
	ErrNeedsSKUOnSale   = domain.E(domain.KindConflict, "product_needs_sku_on_sale", "A product on sale needs at least one SKU on sale.")
	ErrSpecsInUse       = domain.E(domain.KindConflict, "spec_value_in_use", "A SKU still uses a spec value this change removes.")
	ErrBadCursor        = domain.ErrBadCursor
	ErrBadQuantity      = domain.E(domain.KindInvalid, "bad_quantity", "The quantity must be a positive integer.")
	ErrStockLimit       = domain.Errorf(domain.KindConflict, "stock_limit",
		"A SKU holds at most %d units on hand (available and reserved); this change would exceed it.", MaxStock)
)
