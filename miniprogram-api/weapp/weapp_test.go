package weapp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	"github.com/yutang/yutang/domain/platform"
)

func newStandin() (*Standin, *Client) {
	s := &Standin{AppID: "wxdemo", QR: func(string) ([]byte, error) { return []byte("\x89PNG"), nil }}
	return s, s.Client("trial")
}

func TestStandinIsDeterministic(t *testing.T) {
	_, c := newStandin()
	ctx := context.Background()
	a1, err := c.Code2Session(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.Code2Session(ctx, "alice")
	b, _ := c.Code2Session(ctx, "bob")
	if a1.OpenID != a2.OpenID || a1.OpenID == b.OpenID || a1.SessionKey == "" {
		t.Fatalf("openids: alice %q/%q bob %q", a1.OpenID, a2.OpenID, b.OpenID)
	}
	if _, err := c.Code2Session(ctx, "bad code"); !errors.Is(err, identity.ErrWeChatCode) {
		t.Fatalf("bad code: %v", err)
	}
	p, err := c.PhoneNumber(ctx, "x")
	if err != nil || len(p.Number) != 11 || p.Number[:2] != "13" || p.CountryCode != "86" {
		t.Fatalf("phone %+v %v", p, err)
	}
}

// TestTokenInvalidatedMidRun: a token invalidated elsewhere (40001) is
// dropped and refetched, and the call succeeds; the token is cached
// otherwise.
func TestTokenInvalidatedMidRun(t *testing.T) {
	s, c := newStandin()
	ctx := context.Background()
	for range 3 {
		if _, err := c.PhoneNumber(ctx, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Calls(APIStableToken); n != 1 {
		t.Fatalf("stable_token called %d times, want 1", n)
	}
	s.InvalidateTokens()
	if _, err := c.Unlimited(ctx, "abc", "pages/index"); err != nil {
		t.Fatalf("after invalidation: %v", err)
	}
	if n := s.Calls(APIStableToken); n != 2 {
		t.Fatalf("stable_token called %d times, want 2", n)
	}
	// A second refusal in a row is not retried forever.
	s.Fail(APIPhone, 42001, 2)
	if _, err := c.PhoneNumber(ctx, "x"); err == nil {
		t.Fatal("two refusals: no error")
	}
}

// TestErrorCodesMapped: each documented code → its domain error and kind.
func TestErrorCodesMapped(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		api  string
		code int
		want *domain.Error
		call func(c *Client) error
	}{
		{APICode2Session, -1, ErrBusy, nil},
		{APICode2Session, 40226, ErrUserBlocked, nil},
		{APICode2Session, 40029, identity.ErrWeChatCode, nil},
		{APICode2Session, 40163, identity.ErrWeChatCode, nil},
		{APICode2Session, 45011, ErrRateLimited, nil},
		{APIPhone, 40029, identity.ErrWeChatCode, nil},
		{APIPhone, -1, ErrBusy, nil},
		{APIPhone, 1400001, ErrPhoneQuota, nil},
		{APIWxaCode, 45009, ErrWxaCodeQuota, nil},
		{APIWxaCode, 41030, ErrWxaCodePage, nil},
		{APIWxaCode, 40169, ErrWxaCodeScene, nil},
		{APIUpload, 10060001, platform.ErrNotManaged, nil},
		{APIUpload, 10060002, platform.ErrAlreadyShipped, nil},
		{APISend, 43101, platform.ErrMessageRefused, nil},
	}
	for _, tc := range cases {
		s, c := newStandin()
		s.Fail(tc.api, tc.code, 1)
		var err error
		switch tc.api {
		case APICode2Session:
			_, err = c.Code2Session(ctx, "alice")
		case APIPhone:
			_, err = c.PhoneNumber(ctx, "x")
		case APIWxaCode:
			_, err = c.Unlimited(ctx, "abc", "pages/index")
		case APIUpload:
			err = c.UploadShipping(ctx, platform.Shipment{TransactionID: "t", PayerOpenID: "o", Logistics: platform.LogisticsPickup, ItemDesc: "x", UploadedAt: time.Now()})
		case APISend:
			err = c.SendMessage(ctx, platform.Message{OpenID: "o", TemplateID: "t"})
		}
		var de *domain.Error
		if !errors.Is(err, tc.want) || !errors.As(err, &de) || de.Kind != tc.want.Kind {
			t.Errorf("%s %d: got %v, want %s", tc.api, tc.code, err, tc.want.Code)
		}
	}
	// An unmapped code is an internal error that names the API and code.
	s, c := newStandin()
	s.Fail(APICode2Session, 12345, 1)
	_, err := c.Code2Session(ctx, "alice")
	var ae *APIError
	if !errors.As(err, &ae) || ae.ErrCode != 12345 || domain.KindOf(err) != domain.KindInternal {
		t.Fatalf("unmapped: %v", err)
	}
}

func TestStandinShippingAndMessages(t *testing.T) {
	s, c := newStandin()
	ctx := context.Background()
	sh := platform.Shipment{TransactionID: "4200001", PayerOpenID: "o1", Logistics: platform.LogisticsExpress,
		Carrier: "SF", TrackingNo: "SF123", ItemDesc: "茶 *1", ReceiverContact: "138****0000", UploadedAt: time.Now()}
	if err := c.UploadShipping(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadShipping(ctx, sh); !errors.Is(err, platform.ErrAlreadyShipped) {
		t.Fatalf("second upload: %v", err)
	}
	bad := sh
	bad.TrackingNo, bad.Carrier, bad.TransactionID = "", "", "4200002"
	if err := c.UploadShipping(ctx, bad); err == nil {
		t.Fatal("express without tracking accepted")
	}
	if got := s.Shipping(); len(got) != 1 || got[0].Body["logistics_type"] != float64(1) {
		t.Fatalf("shipping %+v", got)
	}
	ds, err := c.DeliveryList(ctx)
	if err != nil || len(ds) == 0 || ds[0].ID == "" {
		t.Fatalf("carriers %v %v", ds, err)
	}
	if err := c.SendMessage(ctx, platform.Message{OpenID: "o1", TemplateID: "t1", Data: map[string]string{"thing1": "x"}}); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Body["miniprogram_state"] != "trial" {
		t.Fatalf("messages %+v", m)
	}
}
