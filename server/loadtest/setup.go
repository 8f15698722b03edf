package main

import (
	"context"
	"fmt"
	"sync"
)

// shopper is a signed-in shopper of the run.
type shopper struct {
	token   string
	id      int64
	address int64 // a delivery address, when made
}

// shoppers signs n shoppers in through the code2session stand-in (any code
// is a shopper in development), 16 at a time; withAddress also gives each a
// delivery address.
func (t *tester) shoppers(ctx context.Context, kind string, n int, withAddress bool) ([]shopper, error) {
	out := make([]shopper, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var s struct {
				Token   string `json:"token"`
				Shopper struct {
					ID int64 `json:"id"`
				} `json:"shopper"`
			}
			code := fmt.Sprintf("lt-%s-%s-%d", t.runID, kind, i)
			if errs[i] = t.cl.must(ctx, 200, call{method: "POST", path: "/api/v1/shop/session",
				body: map[string]string{"code": code}}, &s); errs[i] != nil {
				return
			}
			out[i] = shopper{token: s.Token, id: s.Shopper.ID}
			if !withAddress {
				return
			}
			var a struct {
				ID int64 `json:"id"`
			}
			errs[i] = t.cl.must(ctx, 201, call{method: "POST", path: "/api/v1/shop/addresses", token: s.Token,
				body: map[string]any{"name": "压测", "phone": "13800138000", "province": "上海市", "city": "上海市",
					"district": "徐汇区", "detail": fmt.Sprintf("淮海中路%d号", i+1)}}, &a)
			out[i].address = a.ID
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("sign in %d %s shoppers: %w", n, kind, err)
		}
	}
	return out, nil
}

// productIDs pages through the shop's product list (what an anonymous
// visitor sees on sale).
func (t *tester) productIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID int64 `json:"id"`
			} `json:"items"`
			Next string `json:"next_cursor"`
		}
		path := "/api/v1/shop/products?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if err := t.cl.must(ctx, 200, call{method: "GET", path: path}, &page); err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			ids = append(ids, p.ID)
		}
		if page.Next == "" || len(page.Items) == 0 {
			break
		}
		cursor = page.Next
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no product on sale: load the demo data (YUTANG_DEMO=true)")
	}
	return ids, nil
}

// adminSKU is a SKU's stock as the back office sees it.
type adminSKU struct {
	ID       int64  `json:"id"`
	Code     string `json:"code"`
	Stock    int    `json:"stock"`
	Reserved int    `json:"reserved"`
	Sold     int    `json:"sold"`
}

type adminProduct struct {
	ID   int64      `json:"id"`
	SKUs []adminSKU `json:"skus"`
}

// createProduct creates an on-sale product of the run with skus SKUs, each
// priced priceFen with stock units received (recorded in the stock ledger),
// in the first category of the shop.
func (t *tester) createProduct(ctx context.Context, what string, skus, stock int, priceFen int64) (adminProduct, error) {
	admin, err := t.adminTok(ctx)
	if err != nil {
		return adminProduct{}, err
	}
	var cats struct {
		Items []struct {
			ID       int64 `json:"id"`
			Children []struct {
				ID int64 `json:"id"`
			} `json:"children"`
		} `json:"items"`
	}
	if err := t.cl.must(ctx, 200, call{method: "GET", path: "/api/v1/shop/categories"}, &cats); err != nil {
		return adminProduct{}, err
	}
	if len(cats.Items) == 0 {
		return adminProduct{}, fmt.Errorf("no category: load the demo data")
	}
	cat := cats.Items[0].ID
	if len(cats.Items[0].Children) > 0 {
		cat = cats.Items[0].Children[0].ID
	}
	values := make([]string, skus)
	list := make([]map[string]any, skus)
	for i := range skus {
		values[i] = fmt.Sprintf("%02d", i+1)
		list[i] = map[string]any{"code": fmt.Sprintf("LT-%s-%s-%02d", t.runID, what, i+1), "specs": map[string]string{"编号": values[i]},
			"price_fen": priceFen, "initial_stock": stock}
	}
	var p adminProduct
	err = t.cl.must(ctx, 201, call{method: "POST", path: "/api/v1/admin/products", token: admin, body: map[string]any{
		"category_id": cat, "title": fmt.Sprintf("压测商品 %s %s", what, t.runID), "subtitle": "loadtest",
		"specs": []map[string]any{{"name": "编号", "values": values}}, "status": "on_sale", "skus": list}}, &p)
	if err == nil && len(p.SKUs) != skus {
		err = fmt.Errorf("created product %d has %d SKUs, want %d", p.ID, len(p.SKUs), skus)
	}
	return p, err
}

// product reads a product's SKUs and their stock, reserved and sold counts.
func (t *tester) product(ctx context.Context, id int64) (adminProduct, error) {
	admin, err := t.adminTok(ctx)
	if err != nil {
		return adminProduct{}, err
	}
	var p adminProduct
	err = t.cl.must(ctx, 200, call{method: "GET", path: fmt.Sprintf("/api/v1/admin/products/%d", id), token: admin}, &p)
	return p, err
}

// offSale takes a product of the run off sale once its operation is done,
// so the mall's shop list is as it was.
func (t *tester) offSale(ctx context.Context, id int64) {
	admin, err := t.adminTok(ctx)
	if err != nil {
		return
	}
	if err := t.cl.must(ctx, 200, call{method: "POST", path: fmt.Sprintf("/api/v1/admin/products/%d/status", id), token: admin,
		body: map[string]string{"status": "off_sale"}}, nil); err != nil {
		fmt.Fprintln(t.log, "loadtest: take the product off sale:", err)
	}
}

// stockCheck compares a product's SKUs with what the run did: every SKU
// began with initial units; placed units are reserved or sold, paid units
// sold. It returns the failures (oversell, lost or double payments).
func stockCheck(p adminProduct, initial, placed, paid int) []string {
	var bad []string
	var reserved, sold int
	for _, s := range p.SKUs {
		if s.Stock < 0 || s.Reserved < 0 || s.Sold < 0 {
			bad = append(bad, fmt.Sprintf("SKU %s below zero: stock %d reserved %d sold %d", s.Code, s.Stock, s.Reserved, s.Sold))
		}
		if s.Stock+s.Reserved+s.Sold != initial {
			bad = append(bad, fmt.Sprintf("SKU %s: stock %d + reserved %d + sold %d ≠ %d received", s.Code, s.Stock, s.Reserved, s.Sold, initial))
		}
		reserved += s.Reserved
		sold += s.Sold
	}
	if reserved+sold != placed {
		bad = append(bad, fmt.Sprintf("reserved %d + sold %d ≠ %d units placed", reserved, sold, placed))
	}
	if paid >= 0 && sold != paid {
		bad = append(bad, fmt.Sprintf("sold %d ≠ %d units paid at the simulator", sold, paid))
	}
	return bad
}

func soldOf(p adminProduct) int {
	n := 0
	for _, s := range p.SKUs {
		n += s.Sold
	}
	return n
}
