package payments

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// RewriteTransport returns a RoundTripper that sends every request to
// baseURL instead of WeChat Pay, keeping path and query: with baseURL
// "http://127.0.0.1:8080/_dev/wechatpay", https://api.mch.weixin.qq.com/v3/x
// goes to http://127.0.0.1:8080/_dev/wechatpay/v3/x. The merchant signature
// covers only method, path and query as the SDK built them, so the receiver
// must strip the prefix (wxpaysim does). next nil means http.DefaultTransport.
func RewriteTransport(baseURL string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	u, err := url.Parse(baseURL)
	if err == nil && (u.Scheme == "" || u.Host == "") {
		err = fmt.Errorf("%q is not an absolute URL", baseURL)
	}
	if err != nil {
		err = fmt.Errorf("payments: rewrite transport: %w", err)
	}
	return &rewriteTransport{base: u, err: err, next: next}
}

type rewriteTransport struct {
	base *url.URL
	err  error
	next http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, t.err
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.Host = ""
	if prefix := strings.TrimSuffix(t.base.Path, "/"); prefix != "" {
		r.URL.Path = prefix + req.URL.Path
		if req.URL.RawPath != "" {
			r.URL.RawPath = strings.TrimSuffix(t.base.EscapedPath(), "/") + req.URL.RawPath
		}
	}
	return t.next.RoundTrip(r)
}
