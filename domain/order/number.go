package order

import (
	"fmt"
	"io"
	"time"

	"github.com/yutang/yutang/domain"
)

// An order number is also the WeChat Pay out_trade_no, so it must be at most
// 32 characters of [0-9A-Za-z_-]. Ours are
//
//	YT 261122 7fQk2ZpLw9xBc0Td
//	│  │      └ 16 random base62 characters (≈95 bits) from the caller's random source
//	│  └ the day it was placed, yymmdd in Asia/Shanghai
//	└ the brand prefix
//
// written together ("YT2611227fQk2ZpLw9xBc0Td", 24 characters): readable by a
// person on the phone, sortable by day, but neither guessable nor sequential.
const (
	numberPrefix     = "YT"
	numberDateLen    = 6
	numberRandLen    = 16
	NumberLen        = len(numberPrefix) + numberDateLen + numberRandLen // 24
	numberAlphabet   = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	numberRejectFrom = 256 - 256%len(numberAlphabet) // bytes ≥ this are redrawn, so no character is favoured
)

// NewNumber returns a new order number for an order placed at now, drawing
// its random part from rnd (crypto/rand.Reader in production; a fixed reader
// in tests). It fails only when rnd does.
func NewNumber(now time.Time, rnd io.Reader) (string, error) {
	b := make([]byte, 0, NumberLen)
	b = append(b, numberPrefix...)
	b = now.In(domain.Shanghai).AppendFormat(b, "060102")
	var buf [32]byte
	for len(b) < NumberLen {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return "", fmt.Errorf("order: new number: %w", err)
		}
		for _, c := range buf {
			if int(c) >= numberRejectFrom {
				continue
			}
			b = append(b, numberAlphabet[int(c)%len(numberAlphabet)])
			if len(b) == NumberLen {
				break
			}
		}
	}
	return string(b), nil
}

// ValidNumber reports whether s has the shape of an order number made by
// NewNumber: the prefix, a real yymmdd date and 16 base62 characters. It is a
// cheap check before a lookup, not proof that the order exists.
func ValidNumber(s string) bool {
	if len(s) != NumberLen || s[:len(numberPrefix)] != numberPrefix {
		return false
	}
	date := s[len(numberPrefix) : len(numberPrefix)+numberDateLen]
	for i := 0; i < len(date); i++ {
		if date[i] < '0' || date[i] > '9' {
			return false
		}
	}
	if _, err := time.Parse("060102", date); err != nil {
		return false
	}
	for i := len(numberPrefix) + numberDateLen; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
