package order

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"regexp"
	"testing"
	"time"
)

var wechatOutTradeNo = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

func TestNewNumberShape(t *testing.T) {
	// 23:30 UTC on 21 Nov is 07:30 on 22 Nov in Shanghai.
	now := time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC)
	n, err := NewNumber(now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != NumberLen || n[:8] != "YT261122" {
		t.Fatalf("number %q: want YT261122 + 16 chars", n)
	}
	if !wechatOutTradeNo.MatchString(n) {
		t.Fatalf("number %q is not a valid out_trade_no", n)
	}
	if !ValidNumber(n) {
		t.Fatalf("ValidNumber(%q) = false", n)
	}
}

func TestNewNumberUniqueAndNotSequential(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	ascending := 0
	for i := 0; i < 20000; i++ {
		n, err := NewNumber(now, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if seen[n] {
			t.Fatalf("duplicate number %q after %d", n, i)
		}
		seen[n] = true
		if n > prev {
			ascending++
		}
		prev = n
	}
	// Random numbers go up about half the time; sequential ones always.
	if ascending > 11000 || ascending < 9000 {
		t.Fatalf("%d of 20000 numbers were greater than the previous one: looks sequential", ascending)
	}
}

func TestNewNumberDeterministicWithFixedReader(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	src := bytes.Repeat([]byte{0, 1, 61, 62, 247, 248, 255}, 40)
	a, err := NewNumber(now, bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewNumber(now, bytes.NewReader(src))
	if a != b {
		t.Fatalf("%q != %q", a, b)
	}
	// 0→'0', 1→'1', 61→'z', 62→'0' (62 mod 62), 247→'z' (247 mod 62 = 61);
	// 248 and 255 are ≥ 248 (the largest multiple of 62 ≤ 256) and are skipped.
	want := "YT260501" + "01z0z" + "01z0z" + "01z0z" + "0"
	if a != want {
		t.Fatalf("NewNumber = %q, want %q", a, want)
	}
}

func TestNewNumberReaderError(t *testing.T) {
	_, err := NewNumber(time.Now(), bytes.NewReader([]byte{1, 2, 3}))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want a wrapped read error", err)
	}
}

func TestValidNumber(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"YT2611227fQk2ZpLw9xBc0Td", true},
		{"YT2602307fQk2ZpLw9xBc0Td", false}, // 30 February
		{"YT2613017fQk2ZpLw9xBc0Td", false}, // month 13
		{"XT2611227fQk2ZpLw9xBc0Td", false}, // prefix
		{"YT2611227fQk2ZpLw9xBc0T", false},  // too short
		{"YT2611227fQk2ZpLw9xBc0Tdd", false},
		{"YT2611227fQk2ZpLw9xBc0T-", false}, // valid for WeChat, not ours
		{"YT26112a7fQk2ZpLw9xBc0Td", false},
		{"YT-611227fQk2ZpLw9xBc0Td", false},
		{"", false},
		{"YT2611227fQk2ZpLw9xBc0T\u00e9"[:24], false},
	}
	for _, c := range cases {
		if got := ValidNumber(c.in); got != c.want {
			t.Errorf("ValidNumber(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
