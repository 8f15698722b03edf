package cashier

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/domain/payment"
)

func TestLineRefund(t *testing.T) {
	cases := []struct {
		paid      domain.Fen
		qty, done int
		doneFen   domain.Fen
		k         int
		want      domain.Fen
		wantErr   error
	}{
		{1000, 3, 0, 0, 1, 334, nil}, // 334 + 333 + 333
		{1000, 3, 1, 334, 1, 333, nil},
		{1000, 3, 2, 667, 1, 333, nil},
		{1000, 3, 0, 0, 3, 1000, nil},
		{1000, 3, 1, 334, 2, 666, nil},
		{1000, 3, 2, 667, 2, 0, ErrRefundQuantity},
		{1000, 3, 3, 1000, 1, 0, ErrRefundQuantity},
		{0, 2, 0, 0, 1, 0, nil},
		{7, 10, 0, 0, 10, 7, nil},
		{1000, 3, 1, 300, 2, 700, nil}, // an earlier refund took less: the rest still adds up
	}
	for _, c := range cases {
		got, err := LineRefund(c.paid, c.qty, c.done, c.doneFen, c.k)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%+v: err %v", c, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: got %d, %v", c, got, err)
		}
	}
}

// Whatever the order of partial refunds, a line's refunds add up to exactly
// what was paid for it.
func TestLineRefundSumsExactly(t *testing.T) {
	for paid := domain.Fen(0); paid < 200; paid += 7 {
		for qty := 1; qty <= 7; qty++ {
			for step := 1; step <= qty; step++ {
				done, doneFen := 0, domain.Fen(0)
				for done < qty {
					k := min(step, qty-done)
					amt, err := LineRefund(paid, qty, done, doneFen, k)
					if err != nil {
						t.Fatal(err)
					}
					done, doneFen = done+k, doneFen+amt
				}
				if doneFen != paid {
					t.Fatalf("paid %d qty %d step %d: refunded %d", paid, qty, step, doneFen)
				}
			}
		}
	}
}

// The stock rule that went with this test is after-sales' now
// (aftersales.TestStockRule).
func TestFreightRule(t *testing.T) {
	paid := Order{Status: order.StatusPaid, Freight: 1000}
	shipped := Order{Status: order.StatusShipped, Freight: 1000}
	if FreightRefundable(paid, true, 0) != 1000 || FreightRefundable(paid, false, 0) != 0 ||
		FreightRefundable(shipped, true, 0) != 0 || FreightRefundable(paid, true, 1000) != 0 {
		t.Fatal("freight rule")
	}
}

func TestCheckTransaction(t *testing.T) {
	a := Attempt{OutTradeNo: "YT2611227fQk2ZpLw9xBc0Td-1", Amount: 3000}
	o := Order{Payable: 3000}
	ok := payment.Transaction{OutTradeNo: a.OutTradeNo, TransactionID: "4200", MchID: "m", AppID: "a", Currency: "CNY", Total: 3000}
	if out, why := CheckTransaction(ok, a, o, "m", "a"); out != "" {
		t.Fatalf("ok: %s %s", out, why)
	}
	bad := []func(*payment.Transaction){
		func(t *payment.Transaction) { t.Total = 2999 },
		func(t *payment.Transaction) { t.Currency = "USD" },
		func(t *payment.Transaction) { t.MchID = "x" },
		func(t *payment.Transaction) { t.AppID = "x" },
		func(t *payment.Transaction) { t.OutTradeNo = "other" },
	}
	for i, f := range bad {
		tx := ok
		f(&tx)
		if out, _ := CheckTransaction(tx, a, o, "m", "a"); !out.Alert() {
			t.Errorf("case %d: outcome %q", i, out)
		}
	}
	if out, _ := CheckTransaction(ok, a, Order{Payable: 3100}, "m", "a"); out != OutcomeAmountAlert {
		t.Errorf("stale attempt: %q", out)
	}
}

func TestNumbersAndDescription(t *testing.T) {
	wechat := regexp.MustCompile(`^[0-9A-Za-z_-]{6,32}$`)
	no := "YT2611227fQk2ZpLw9xBc0Td"
	for seq := 1; seq <= 99; seq++ {
		if s := OutTradeNo(no, seq); !wechat.MatchString(s) {
			t.Fatalf("out_trade_no %q", s)
		}
	}
	if OutRefundNo(no, 3) != no+"R03" {
		t.Fatal(OutRefundNo(no, 3))
	}
	o := Order{Number: no, Items: []Item{{Title: strings.Repeat("茶", 200), Quantity: 2}}}
	if d := Description("鱼塘", o); len([]rune(d)) > 127 || !strings.HasPrefix(d, "鱼塘-茶") {
		t.Fatalf("description %q", d)
	}
	if Description("", Order{Number: no, Items: []Item{{Title: "龙井", Quantity: 3}}}) != "龙井 等3件" {
		t.Fatal("description of several units")
	}
	a := Attempt{Status: AttemptOpen, TradeType: TradeJSAPI, PrepayID: "wx1", Amount: 100, PrepayValidUntil: time.Unix(100, 0)}
	if !a.Reusable(100, time.Unix(99, 0)) || a.Reusable(100, time.Unix(100, 0)) || a.Reusable(101, time.Unix(0, 0)) {
		t.Fatal("reusable")
	}
}
