package mpapi_test

import (
	"bufio"
	"bytes"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

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

// A route whose service is not wired answers 503 unavailable, never a 500
// from a nil service.
func TestUnwiredServicesAnswer503(t *testing.T) {
	api := mpapi.New(mpapi.Deps{})
	for _, path := range []string{
		"/api/v1/shop/categories", // catalog
		"/api/v1/shop/products/1", // catalog
		"/api/v1/shop/cart",       // cart (anonymous visitors allowed)
		"/api/v1/shop/track",      // attribution, POST below
	} {
		method := "GET"
		if strings.HasSuffix(path, "/track") {
			method = "POST"
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(`{"events":[]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Anon-Id", "anon-12345678")
		api.Handler().ServeHTTP(rec, req)
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
			t.Errorf("%s %s: %d %s, want 503 unavailable", method, path, rec.Code, rec.Body)
		}
	}
}
