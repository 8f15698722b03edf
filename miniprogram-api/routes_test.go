package mpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/identity"
	mpapi "github.com/yutang/yutang/miniprogram-api"
)

// specRoutes reads "METHOD /path" pairs from openapi.yaml: paths are the
// two-space-indented keys under `paths:`, methods the four-space-indented
// keys below each.
func specRoutes(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	pathRe := regexp.MustCompile(`^  (/[^:]*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|post|put|patch|delete):`)
	inPaths := false
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(mpapi.OpenAPI()))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "paths:") {
			inPaths = true
			continue
		}
		if inPaths && len(line) > 0 && line[0] != ' ' && line[0] != '#' {
			inPaths = false
		}
		if !inPaths {
			continue
		}
		if m := pathRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := methodRe.FindStringSubmatch(line); m != nil && cur != "" {
			out[strings.ToUpper(m[1])+" "+cur] = true
		}
	}
	return out
}

var echoParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// The routes the server registers and the routes openapi.yaml lists are the
// same set.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	api := mpapi.New(mpapi.Deps{})
	registered := map[string]bool{}
	for _, r := range api.Echo().Routes() {
		if strings.HasPrefix(r.Path, "/_dev") || strings.HasPrefix(r.Method, "echo_route_") {
			continue
		}
		registered[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	spec := specRoutes(t)
	var missing, extra []string
	for r := range registered {
		if !spec[r] {
			missing = append(missing, r)
		}
	}
	for r := range spec {
		if !registered[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("registered but not in openapi.yaml:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("in openapi.yaml but not registered:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(spec) < 5 {
		t.Fatalf("parsed only %d routes from openapi.yaml", len(spec))
	}
}

// principals is an identity store that knows two tokens, a shopper's and a
// staff member's, and counts how often a token is resolved.
type principals struct {
	identity.Store // only the methods below are called
	lookups        int
}

func (p *principals) Principal(_ context.Context, hash []byte, _ time.Time) (identity.Principal, error) {
	p.lookups++
	switch string(hash) {
	case string(identity.HashToken("shopper-token")):
		return identity.Principal{Kind: identity.SubjectShopper, ID: 7}, nil
	case string(identity.HashToken("staff-token")):
		return identity.Principal{Kind: identity.SubjectStaff, ID: 8, Role: identity.RoleAdmin}, nil
	}
	return identity.Principal{}, domain.E(domain.KindNotFound, "token_not_found", "No such token.")
}

func (p *principals) RevokeToken(context.Context, []byte, time.Time) error { return nil }

// A shopper route resolves the bearer token once per request, and still
// turns away missing, unknown and staff tokens.
func TestShopRoutesAuthenticateOnce(t *testing.T) {
	for _, c := range []struct {
		token   string
		status  int
		lookups int
	}{
		{token: "shopper-token", status: 204, lookups: 1},
		{token: "", status: 401, lookups: 0},
		{token: "unknown-token", status: 401, lookups: 1},
		{token: "staff-token", status: 403, lookups: 1},
	} {
		st := &principals{}
		api := mpapi.New(mpapi.Deps{Services: mpapi.Services{Identity: &identity.Service{Store: st}}})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("DELETE", "/api/v1/shop/session", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		api.Handler().ServeHTTP(rec, req)
		if rec.Code != c.status || st.lookups != c.lookups {
			t.Errorf("token %q: %d after %d lookups, want %d after %d: %s", c.token, rec.Code, st.lookups, c.status, c.lookups, rec.Body)
		}
	}
}
