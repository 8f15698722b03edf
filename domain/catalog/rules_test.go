package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/yutang/yutang/domain"
)

func TestStockStateOf(t *testing.T) {
	cases := []struct {
		stock, low int
		want       StockState
	}{
		{0, 5, SoldOut}, {-1, 5, SoldOut}, {1, 5, LowStock}, {5, 5, LowStock}, {6, 5, InStock},
		{1, 0, InStock}, {100, 100, LowStock},
	}
	for _, c := range cases {
		if got := StockStateOf(c.stock, c.low); got != c.want {
			t.Errorf("StockStateOf(%d, %d) = %s, want %s", c.stock, c.low, got, c.want)
		}
	}
	s := &Service{}
	if s.StockState(5) != LowStock || s.StockState(6) != InStock {
		t.Error("the default low threshold is 5")
	}
}

func dressProduct() Product {
	return Product{CategoryID: 1, Title: "法式碎花连衣裙", Status: ProductOnSale,
		Images: []string{"https://img.example.com/a.jpg"},
		Specs:  []SpecDim{{Name: "颜色", Values: []string{"红", "蓝"}}, {Name: "尺码", Values: []string{"S", "M"}}}}
}

func sku(code, colour, size string, price domain.Fen) SKU {
	return SKU{Code: code, Specs: map[string]string{"颜色": colour, "尺码": size}, Price: price, Status: SKUOnSale}
}

func fieldNames(fs []domain.FieldError) string {
	var n []string
	for _, f := range fs {
		n = append(n, f.Field)
	}
	return strings.Join(n, ",")
}

func TestValidateProduct(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *Product)
		want   string // field names, comma separated; "" valid
	}{
		{"valid", func(p *Product) {}, ""},
		{"no category", func(p *Product) { p.CategoryID = 0 }, "category_id"},
		{"empty title", func(p *Product) { p.Title = "" }, "title"},
		{"120 CJK characters is fine", func(p *Product) { p.Title = strings.Repeat("裙", 120) }, ""},
		{"121 is not", func(p *Product) { p.Title = strings.Repeat("裙", 121) }, "title"},
		{"ftp image", func(p *Product) { p.Images = []string{"https://a/x.jpg", "ftp://a/x.jpg"} }, "images[1]"},
		{"relative image", func(p *Product) { p.Images = []string{"/x.jpg"} }, "images[0]"},
		{"ten images", func(p *Product) { p.Images = make([]string, 10); fill(p.Images, "https://a/x.jpg") }, "images"},
		{"bad status", func(p *Product) { p.Status = "sold" }, "status"},
		{"duplicate dim", func(p *Product) { p.Specs[1].Name = "颜色" }, "specs[1].name"},
		{"duplicate value", func(p *Product) { p.Specs[0].Values = []string{"红", "红"} }, "specs[0].values[1]"},
		{"no values", func(p *Product) { p.Specs[0].Values = nil }, "specs[0].values"},
		{"four dims", func(p *Product) {
			p.Specs = append(p.Specs, SpecDim{"a", []string{"1"}}, SpecDim{"b", []string{"1"}})
		}, "specs"},
	}
	for _, c := range cases {
		p := dressProduct()
		c.mutate(&p)
		if got := fieldNames(ValidateProduct(p)); got != c.want {
			t.Errorf("%s: fields %q, want %q", c.name, got, c.want)
		}
	}
}

func fill(s []string, v string) {
	for i := range s {
		s[i] = v
	}
}

func TestValidateSKU(t *testing.T) {
	p := dressProduct()
	cases := []struct {
		name string
		s    SKU
		want string
	}{
		{"valid", sku("A-1", "红", "S", 100), ""},
		{"zero price", sku("A-1", "红", "S", 0), "price_fen"},
		{"negative price", sku("A-1", "红", "S", -5), "price_fen"},
		{"list below price", func() SKU { s := sku("A-1", "红", "S", 100); s.ListPrice = 99; return s }(), "list_price_fen"},
		{"list equal is fine", func() SKU { s := sku("A-1", "红", "S", 100); s.ListPrice = 100; return s }(), ""},
		{"bad code", sku("A 1", "红", "S", 100), "code"},
		{"value not in dim", sku("A-1", "绿", "S", 100), "specs"},
		{"missing dim", SKU{Code: "A-1", Specs: map[string]string{"颜色": "红"}, Price: 1, Status: SKUOnSale}, "specs"},
		{"extra dim", SKU{Code: "A-1", Specs: map[string]string{"颜色": "红", "尺码": "S", "款": "x"}, Price: 1, Status: SKUOnSale}, "specs"},
		{"negative limit", func() SKU { s := sku("A-1", "红", "S", 100); s.PerOrderLimit = -1; return s }(), "per_order_limit"},
	}
	for _, c := range cases {
		if got := fieldNames(ValidateSKU(p, c.s, "")); got != c.want {
			t.Errorf("%s: fields %q, want %q", c.name, got, c.want)
		}
	}
	if got := fieldNames(ValidateSKU(p, sku("A-1", "红", "S", 0), "skus[3].")); got != "skus[3].price_fen" {
		t.Errorf("prefix: %q", got)
	}
	// A product without dimensions takes SKUs without specs.
	plain := Product{}
	if fs := ValidateSKU(plain, SKU{Code: "X", Price: 1, Status: SKUOnSale}, ""); len(fs) != 0 {
		t.Errorf("plain sku: %v", fs)
	}
}

func TestCheckSKUs(t *testing.T) {
	cases := []struct {
		name string
		skus []SKU
		set  func(p *Product)
		want error
	}{
		{"ok", []SKU{sku("A", "红", "S", 1), sku("B", "红", "M", 1)}, nil, nil},
		{"same specs", []SKU{sku("A", "红", "S", 1), sku("B", "红", "S", 1)}, nil, ErrSpecsTaken},
		{"same code", []SKU{sku("A", "红", "S", 1), sku("A", "红", "M", 1)}, nil, ErrSKUCodeTaken},
		{"on sale, all SKUs off", []SKU{func() SKU { s := sku("A", "红", "S", 1); s.Status = SKUOffSale; return s }()}, nil, ErrNeedsSKUOnSale},
		{"on sale, no SKUs", nil, nil, ErrNeedsSKUOnSale},
		{"draft without SKUs", nil, func(p *Product) { p.Status = ProductDraft }, nil},
		{"dimension value removed", []SKU{sku("A", "蓝", "S", 1)}, func(p *Product) { p.Specs[0].Values = []string{"红"} }, ErrSpecsInUse},
	}
	for _, c := range cases {
		p := dressProduct()
		p.SKUs = c.skus
		if c.set != nil {
			c.set(&p)
		}
		err := CheckSKUs(p)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestValidateAdjustment(t *testing.T) {
	cases := []struct {
		a    Adjustment
		want string
	}{
		{Adjustment{StockReceive, 10, ""}, ""},
		{Adjustment{StockReceive, 0, ""}, "quantity"},
		{Adjustment{StockReceive, -1, ""}, "quantity"},
		{Adjustment{StockDamage, 2, "破损"}, ""},
		{Adjustment{StockDamage, 2, " "}, "note"},
		{Adjustment{StockCorrect, -3, "盘点"}, ""},
		{Adjustment{StockCorrect, 0, "盘点"}, "quantity"},
		{Adjustment{StockReserve, 1, ""}, "kind"},
		{Adjustment{"steal", 1, ""}, "kind"},
	}
	for _, c := range cases {
		if got := fieldNames(ValidateAdjustment(c.a)); got != c.want {
			t.Errorf("%+v: %q, want %q", c.a, got, c.want)
		}
	}
	if (Adjustment{StockDamage, 3, ""}).Delta() != -3 || (Adjustment{StockCorrect, -3, ""}).Delta() != -3 || (Adjustment{StockReceive, 3, ""}).Delta() != 3 {
		t.Error("Delta")
	}
}

func TestTree(t *testing.T) {
	flat := []Category{
		{ID: 1, Name: "女装", Sort: 2}, {ID: 2, Name: "男装", Sort: 1},
		{ID: 3, ParentID: 1, Name: "上衣", Sort: 1}, {ID: 4, ParentID: 1, Name: "连衣裙", Sort: 0},
		{ID: 5, ParentID: 99, Name: "孤儿"},
	}
	tr := Tree(flat)
	if len(tr) != 3 || tr[0].Name != "孤儿" || tr[1].Name != "男装" || tr[2].Name != "女装" {
		t.Fatalf("roots: %+v", tr)
	}
	if k := tr[2].Children; len(k) != 2 || k[0].Name != "连衣裙" || k[1].Name != "上衣" {
		t.Fatalf("children: %+v", k)
	}
}

func TestMinOnSalePriceAndSpecKey(t *testing.T) {
	off := sku("C", "蓝", "M", 1)
	off.Status = SKUOffSale
	if got := MinOnSalePrice([]SKU{sku("A", "红", "S", 300), sku("B", "红", "M", 200), off}); got != 200 {
		t.Errorf("min price %d", got)
	}
	if SpecKey(map[string]string{"a": "1", "b": "2"}) != SpecKey(map[string]string{"b": "2", "a": "1"}) {
		t.Error("SpecKey depends on map order")
	}
	if SpecKey(map[string]string{"a": "1b"}) == SpecKey(map[string]string{"a1": "b"}) {
		t.Error("SpecKey is ambiguous")
	}
}
