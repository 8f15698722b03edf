package order

import (
	"fmt"
	"math/bits"

	"github.com/yutang/yutang/domain"
)

// TenderKind is a way an order's payable is settled.
type TenderKind string

// TenderWeChatPay is money paid through WeChat Pay. Other kinds (stored
// value, gift cards …) are added by the areas that hold them: a placed
// handler takes the money and records its tender, and the rest of the
// payable is what WeChat Pay is asked for.
const TenderWeChatPay TenderKind = "wechat_pay"

// Tender is one part of an order's payable and where it came from. Ref names
// the source (the WeChat transaction id, the stored-value entry …).
// Refunded is what live refunds (not failed or closed) give back of it.
type Tender struct {
	ID       int64
	Kind     TenderKind
	Ref      string
	Amount   domain.Fen
	Refunded domain.Fen
}

// TenderRefund is what one refund gives back to one tender.
type TenderRefund struct {
	TenderID int64
	Kind     TenderKind
	Ref      string
	Amount   domain.Fen
}

// DueThroughWeChat is what is left of payable after the tenders other than
// WeChat Pay: what a WeChat payment attempt asks for.
func DueThroughWeChat(payable domain.Fen, tenders []Tender) domain.Fen {
	due := payable
	for _, t := range tenders {
		if t.Kind != TenderWeChatPay {
			due -= t.Amount
		}
	}
	return due
}

// SplitRefund splits a refund of amount across the tenders of a paid order
// whose payable they settle. The rule: refunds go back to where the money
// came from, in proportion to what each tender paid, counted on everything
// refunded so far, so that many partial refunds add up to the same split as
// one refund of their sum, and a full refund returns every tender whole.
// Tenders other than WeChat Pay are taken in order: each gets
// floor(left × its amount / payable left) of the cumulative refund, where
// "left" excludes the tenders before it; WeChat Pay, last, takes the rest,
// so the rounding fen always go back through WeChat Pay. Parts are never
// negative and never more than what a tender has left.
func SplitRefund(tenders []Tender, amount domain.Fen) ([]TenderRefund, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("order: split refund: amount %d", amount)
	}
	var payable, refunded domain.Fen
	ordered := make([]Tender, 0, len(tenders))
	var wechat []Tender
	for _, t := range tenders {
		payable += t.Amount
		refunded += t.Refunded
		if t.Kind == TenderWeChatPay {
			wechat = append(wechat, t)
		} else {
			ordered = append(ordered, t)
		}
	}
	ordered = append(ordered, wechat...)
	if refunded+amount > payable {
		return nil, fmt.Errorf("order: split refund: %d more after %d refunded of %d", amount, refunded, payable)
	}
	cum, left := refunded+amount, payable
	out := make([]TenderRefund, 0, len(ordered))
	var given domain.Fen
	for i, t := range ordered {
		var target domain.Fen
		if i == len(ordered)-1 {
			target = cum
		} else if left > 0 {
			target = mulDiv(cum, t.Amount, left)
		}
		cum -= target
		left -= t.Amount
		part := max(0, target-t.Refunded)
		if i == len(ordered)-1 {
			part = amount - given
		}
		if part < 0 || part > t.Amount-t.Refunded {
			return nil, fmt.Errorf("order: split refund: tender %d (%s) would get %d of %d left", t.ID, t.Kind, part, t.Amount-t.Refunded)
		}
		given += part
		if part > 0 {
			out = append(out, TenderRefund{TenderID: t.ID, Kind: t.Kind, Ref: t.Ref, Amount: part})
		}
	}
	return out, nil
}

// mulDiv is floor(a × b / c) for 0 ≤ a ≤ c and b ≥ 0, without overflow.
func mulDiv(a, b, c domain.Fen) domain.Fen {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return domain.Fen(q)
}
