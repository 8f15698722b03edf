package main

import (
	"github.com/yutang/yutang/domain"
)

// The brand's delivery fee until it is configurable: ¥10 per order, free
// from ¥99 of goods (after discounts).
const (
	defaultFreightFen          domain.Fen = 1000
	defaultFreeFreightAboveFen domain.Fen = 9900
)
