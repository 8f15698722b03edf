package weapp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/yutang/yutang/domain/identity"
)

func TestStandinIsDeterministic(t *testing.T) {
	s := &Standin{AppID: "wxdemo"}
	a1, err := s.Code2Session(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := s.Code2Session(context.Background(), "alice")
	b, _ := s.Code2Session(context.Background(), "bob")
	if a1.OpenID != a2.OpenID || a1.OpenID == b.OpenID || a1.SessionKey == "" {
		t.Fatalf("openids: alice %q/%q bob %q", a1.OpenID, a2.OpenID, b.OpenID)
	}
	if _, err := s.Code2Session(context.Background(), ""); err != identity.ErrWeChatCode {
		t.Fatalf("empty code: %v", err)
	}
	p, _ := s.PhoneNumber(context.Background(), "x")
	if len(p) != 11 || p[:2] != "13" {
		t.Fatalf("phone %q", p)
	}
}

func TestClientCode2SessionAndStableToken(t *testing.T) {
	tokenCalls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sns/jscode2session":
			if r.URL.Query().Get("js_code") == "bad" {
				json.NewEncoder(w).Encode(map[string]any{"errcode": 40029, "errmsg": "invalid code"})
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"openid": "o1", "session_key": "k", "unionid": "u"})
		case "/cgi-bin/stable_token":
			tokenCalls++
			json.NewEncoder(w).Encode(map[string]any{"access_token": "T", "expires_in": 7200})
		case "/wxa/business/getuserphonenumber":
			if r.URL.Query().Get("access_token") != "T" {
				t.Errorf("token not passed")
			}
			json.NewEncoder(w).Encode(map[string]any{"errcode": 0, "phone_info": map[string]string{"purePhoneNumber": "13800000000"}})
		}
	}))
	defer srv.Close()
	c := &Client{AppID: "a", Secret: "s", BaseURL: srv.URL}
	ws, err := c.Code2Session(context.Background(), "good")
	if err != nil || ws.OpenID != "o1" || ws.UnionID != "u" {
		t.Fatalf("code2session: %+v %v", ws, err)
	}
	if _, err := c.Code2Session(context.Background(), "bad"); err != identity.ErrWeChatCode {
		t.Fatalf("bad code: %v", err)
	}
	for i := 0; i < 3; i++ {
		p, err := c.PhoneNumber(context.Background(), "c")
		if err != nil || p != "13800000000" {
			t.Fatalf("phone: %q %v", p, err)
		}
	}
	if tokenCalls != 1 {
		t.Fatalf("stable_token called %d times, want 1 (cached)", tokenCalls)
	}
}
