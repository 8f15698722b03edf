package mpapi_test

import (
	"bufio"
	"bytes"
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
