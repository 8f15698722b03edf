package yutang_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/yutang/yutang"

// rule says which imports a package tree may not have (by prefix).
type rule struct {
	dir       string   // package directory (and below)
	forbidden []string // import path prefixes
	stdOnly   bool     // only the standard library, the module's domain, and allowed
	allowed   []string // extra prefixes allowed when stdOnly
}

// The table of STYLE.md, kept true by this test.
var rules = []rule{
	{dir: "domain", stdOnly: true, allowed: []string{module + "/domain", "golang.org/x/crypto/argon2"}},
	{dir: "storage", forbidden: []string{"github.com/labstack/echo", module + "/payments", module + "/miniprogram-api", "github.com/wechatpay-apiv3"}},
	{dir: "payments", forbidden: []string{module + "/storage", "github.com/labstack/echo", module + "/miniprogram-api", "github.com/jmoiron/sqlx", "github.com/lib/pq"}},
	{dir: "miniprogram-api", forbidden: []string{module + "/storage", module + "/payments", "github.com/jmoiron/sqlx", "github.com/lib/pq", "github.com/wechatpay-apiv3"}},
}

func TestImportRules(t *testing.T) {
	checked := 0
	for _, r := range rules {
		err := filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if bad := violates(r, p); bad {
					t.Errorf("%s imports %s, which %s may not import (STYLE.md)", path, p, r.dir)
				}
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
}

func violates(r rule, p string) bool {
	if r.stdOnly {
		first := strings.SplitN(p, "/", 2)[0]
		if !strings.Contains(first, ".") {
			return false // standard library
		}
		for _, a := range r.allowed {
			if p == a || strings.HasPrefix(p, a+"/") {
				return false
			}
		}
		return true
	}
	for _, f := range r.forbidden {
		if p == f || strings.HasPrefix(p, f+"/") || strings.HasPrefix(p, f) {
			return true
		}
	}
	return false
}

// The rule itself must catch a violation.
func TestImportRuleCatchesViolations(t *testing.T) {
	if !violates(rules[0], "github.com/labstack/echo/v4") || !violates(rules[0], "github.com/jmoiron/sqlx") {
		t.Fatal("domain rule misses echo or sqlx")
	}
	if violates(rules[0], "context") || violates(rules[0], module+"/domain/identity") {
		t.Fatal("domain rule rejects the standard library or domain")
	}
	if !violates(rules[3], module+"/storage") {
		t.Fatal("api rule misses storage")
	}
}
