package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/yutang/yutang/domain"
)

// Limits a merchandiser works within.
const (
	MaxImages       = 9
	MaxTags         = 10
	MaxSpecDims     = 3
	MaxSpecValues   = 30
	MaxTitleLen     = 120
	MaxSubtitleLen  = 200
	MaxDescLen      = 10000
	MaxURLLen       = 1000
	MaxSKUsPerSPU   = 200
	MaxPrice        = domain.Fen(100_000_000) // one million yuan
	MaxAdjustment   = 1_000_000
	MaxNoteLen      = 200
	MaxCategoryName = 50
)

// MaxStock bounds a SKU's units on hand (available + reserved): a receive or
// correction beyond it is refused with ErrStockLimit, so the counters never
// overflow their int columns however many receives pile up.
const MaxStock = 100_000_000

func field(name, code, msg string) domain.FieldError {
	return domain.FieldError{Field: name, Code: code, Message: msg}
}

// Normalize trims the product's text fields and drops empty tags.
func (p *Product) Normalize() {
	p.Title = strings.TrimSpace(p.Title)
	p.Subtitle = strings.TrimSpace(p.Subtitle)
	p.Description = strings.TrimSpace(p.Description)
	tags := p.Tags[:0:0]
	for _, t := range p.Tags {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	p.Tags = tags
	for i := range p.Specs {
		p.Specs[i].Name = strings.TrimSpace(p.Specs[i].Name)
		for j := range p.Specs[i].Values {
			p.Specs[i].Values[j] = strings.TrimSpace(p.Specs[i].Values[j])
		}
	}
}

// ValidateProduct checks a product's own fields (not its SKUs), naming each
// bad field by its wire name.
func ValidateProduct(p Product) []domain.FieldError {
	var fs []domain.FieldError
	if p.CategoryID <= 0 {
		fs = append(fs, field("category_id", "required", "is required"))
	}
	if n := utf8.RuneCountInString(p.Title); n == 0 {
		fs = append(fs, field("title", "required", "is required"))
	} else if n > MaxTitleLen {
		fs = append(fs, field("title", "max", fmt.Sprintf("must have at most %d characters", MaxTitleLen)))
	}
	if utf8.RuneCountInString(p.Subtitle) > MaxSubtitleLen {
		fs = append(fs, field("subtitle", "max", fmt.Sprintf("must have at most %d characters", MaxSubtitleLen)))
	}
	if utf8.RuneCountInString(p.Description) > MaxDescLen {
		fs = append(fs, field("description", "max", fmt.Sprintf("must have at most %d characters", MaxDescLen)))
	}
	if len(p.Images) > MaxImages {
		fs = append(fs, field("images", "max", fmt.Sprintf("must have at most %d images", MaxImages)))
	}
	for i, u := range p.Images {
		if !IsImageURL(u) {
			fs = append(fs, field(fmt.Sprintf("images[%d]", i), "url", "must be an http(s) URL"))
		}
	}
	if len(p.Tags) > MaxTags {
		fs = append(fs, field("tags", "max", fmt.Sprintf("must have at most %d tags", MaxTags)))
	}
	for i, t := range p.Tags {
		if utf8.RuneCountInString(t) > 20 {
			fs = append(fs, field(fmt.Sprintf("tags[%d]", i), "max", "must have at most 20 characters"))
		}
	}
	if !p.Status.Valid() {
		fs = append(fs, field("status", "oneof", "must be one of: draft on_sale off_sale"))
	}
	if len(p.Specs) > MaxSpecDims {
		fs = append(fs, field("specs", "max", fmt.Sprintf("must have at most %d dimensions", MaxSpecDims)))
	}
	names := map[string]bool{}
	for i, d := range p.Specs {
		at := fmt.Sprintf("specs[%d]", i)
		switch {
		case d.Name == "" || utf8.RuneCountInString(d.Name) > 20:
			fs = append(fs, field(at+".name", "format", "must have 1 to 20 characters"))
		case names[d.Name]:
			fs = append(fs, field(at+".name", "unique", "is used by another dimension"))
		}
		names[d.Name] = true
		if len(d.Values) == 0 || len(d.Values) > MaxSpecValues {
			fs = append(fs, field(at+".values", "range", fmt.Sprintf("must have 1 to %d values", MaxSpecValues)))
		}
		seen := map[string]bool{}
		for j, v := range d.Values {
			vat := fmt.Sprintf("%s.values[%d]", at, j)
			switch {
			case v == "" || utf8.RuneCountInString(v) > 30:
				fs = append(fs, field(vat, "format", "must have 1 to 30 characters"))
			case seen[v]:
				fs = append(fs, field(vat, "unique", "is listed twice"))
			}
			seen[v] = true
		}
	}
	return fs
}

// IsImageURL reports whether u is an absolute http(s) URL with a host.
func IsImageURL(u string) bool {
	if len(u) == 0 || len(u) > MaxURLLen {
		return false
	}
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// ValidSKUCode reports whether code fits [A-Za-z0-9_.-]{1,64}.
func ValidSKUCode(code string) bool {
	if len(code) == 0 || len(code) > 64 {
		return false
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// ValidateSKU checks one SKU against its product's spec dimensions; prefix
// names the SKU on the wire ("skus[2]." or "").
func ValidateSKU(p Product, s SKU, prefix string) []domain.FieldError {
	var fs []domain.FieldError
	if !ValidSKUCode(s.Code) {
		fs = append(fs, field(prefix+"code", "format", "must be 1 to 64 characters of A-Z a-z 0-9 _ . -"))
	}
	switch {
	case s.Price <= 0:
		fs = append(fs, field(prefix+"price_fen", "gt", "must be greater than 0"))
	case s.Price > MaxPrice:
		fs = append(fs, field(prefix+"price_fen", "max", fmt.Sprintf("must be at most %d", MaxPrice)))
	}
	if s.ListPrice != 0 && s.ListPrice < s.Price {
		fs = append(fs, field(prefix+"list_price_fen", "gte", "must be 0 (none) or at least the price"))
	}
	if s.ListPrice < 0 || s.ListPrice > MaxPrice {
		fs = append(fs, field(prefix+"list_price_fen", "range", fmt.Sprintf("must be from 0 to %d", MaxPrice)))
	}
	if s.PerOrderLimit < 0 {
		fs = append(fs, field(prefix+"per_order_limit", "gte", "must be 0 (no limit) or more"))
	}
	if !s.Status.Valid() {
		fs = append(fs, field(prefix+"status", "oneof", "must be one of: on_sale off_sale"))
	}
	if msg := specsMismatch(p.Specs, s.Specs); msg != "" {
		fs = append(fs, field(prefix+"specs", "specs", msg))
	}
	return fs
}

// specsMismatch explains how values fail to name one value of every dimension
// of dims, or returns "".
func specsMismatch(dims []SpecDim, values map[string]string) string {
	if len(values) != len(dims) {
		if len(dims) == 0 {
			return "must be empty: the product has no spec dimensions"
		}
		return fmt.Sprintf("must give one value for each of: %s", dimNames(dims))
	}
	for _, d := range dims {
		v, ok := values[d.Name]
		if !ok {
			return fmt.Sprintf("must give one value for each of: %s", dimNames(dims))
		}
		if !slices.Contains(d.Values, v) {
			return fmt.Sprintf("%s must be one of: %s", d.Name, strings.Join(d.Values, " "))
		}
	}
	return ""
}

func dimNames(dims []SpecDim) string {
	n := make([]string, len(dims))
	for i, d := range dims {
		n[i] = d.Name
	}
	return strings.Join(n, " ")
}

// SpecKey is a canonical string of a SKU's spec values (for uniqueness).
func SpecKey(values map[string]string) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(values[k])
		b.WriteByte(0)
	}
	return b.String()
}

// CheckSKUs checks the rules across a product and all its SKUs: every SKU
// matches the spec dimensions, no two SKUs share spec values or a code, and a
// product on sale has a SKU on sale.
func CheckSKUs(p Product) error {
	if len(p.SKUs) > MaxSKUsPerSPU {
		return domain.Invalid(field("skus", "max", fmt.Sprintf("must have at most %d SKUs", MaxSKUsPerSPU)))
	}
	specs := map[string]bool{}
	codes := map[string]bool{}
	onSale := false
	for _, s := range p.SKUs {
		if specsMismatch(p.Specs, s.Specs) != "" {
			return ErrSpecsInUse.WithMessage("SKU %s does not match the spec dimensions: change or take it off the product first.", s.Code)
		}
		k := SpecKey(s.Specs)
		if specs[k] {
			return ErrSpecsTaken.WithMessage("Two SKUs (one is %s) have the same spec values.", s.Code)
		}
		specs[k] = true
		if codes[s.Code] {
			return ErrSKUCodeTaken.WithMessage("The SKU code %s is used twice.", s.Code)
		}
		codes[s.Code] = true
		onSale = onSale || s.Status == SKUOnSale
	}
	if p.Status == ProductOnSale && !onSale {
		return ErrNeedsSKUOnSale
	}
	return nil
}

// ValidateAdjustment checks a manual stock change.
func ValidateAdjustment(a Adjustment) []domain.FieldError {
	var fs []domain.FieldError
	switch a.Kind {
	case StockReceive, StockDamage:
		if a.Quantity <= 0 || a.Quantity > MaxAdjustment {
			fs = append(fs, field("quantity", "range", fmt.Sprintf("must be from 1 to %d", MaxAdjustment)))
		}
	case StockCorrect:
		if a.Quantity == 0 || a.Quantity > MaxAdjustment || a.Quantity < -MaxAdjustment {
			fs = append(fs, field("quantity", "range", "must be the signed change of the count, not 0"))
		}
	default:
		fs = append(fs, field("kind", "oneof", "must be one of: receive correct damage"))
	}
	note := strings.TrimSpace(a.Note)
	if (a.Kind == StockCorrect || a.Kind == StockDamage) && note == "" {
		fs = append(fs, field("note", "required", "is required: say why the stock changes"))
	}
	if utf8.RuneCountInString(note) > MaxNoteLen {
		fs = append(fs, field("note", "max", fmt.Sprintf("must have at most %d characters", MaxNoteLen)))
	}
	return fs
}

// ValidateCategory checks a category's fields.
func ValidateCategory(c Category) []domain.FieldError {
	var fs []domain.FieldError
	if n := utf8.RuneCountInString(c.Name); n == 0 || n > MaxCategoryName {
		fs = append(fs, field("name", "format", fmt.Sprintf("must have 1 to %d characters", MaxCategoryName)))
	}
	if c.ParentID < 0 {
		fs = append(fs, field("parent_id", "gte", "must be a category id or 0 for a root"))
	}
	return fs
}

// Tree arranges categories into a forest: roots and children ordered by Sort,
// then ID. Categories whose parent is missing become roots.
func Tree(flat []Category) []Category {
	byParent := map[int64][]Category{}
	ids := map[int64]bool{}
	for _, c := range flat {
		ids[c.ID] = true
	}
	for _, c := range flat {
		p := c.ParentID
		if !ids[p] {
			p = 0
		}
		byParent[p] = append(byParent[p], c)
	}
	var build func(parent int64, depth int) []Category
	build = func(parent int64, depth int) []Category {
		kids := byParent[parent]
		sort.SliceStable(kids, func(i, j int) bool {
			if kids[i].Sort != kids[j].Sort {
				return kids[i].Sort < kids[j].Sort
			}
			return kids[i].ID < kids[j].ID
		})
		out := make([]Category, len(kids))
		for i, k := range kids {
			out[i] = k
			if depth < 16 {
				out[i].Children = build(k.ID, depth+1)
			}
		}
		return out
	}
	return build(0, 0)
}

// MinOnSalePrice is the cheapest on-sale SKU's price (0 when none).
func MinOnSalePrice(skus []SKU) domain.Fen {
	var m domain.Fen
	for _, s := range skus {
		if s.Status == SKUOnSale && (m == 0 || s.Price < m) {
			m = s.Price
		}
	}
	return m
}
