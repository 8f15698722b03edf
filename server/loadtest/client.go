package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// checkLoopback refuses any target that is not this machine: the tool marks
// orders paid through the development simulator and floods the API, so it
// must never be pointed at a shared or production mall by mistake.
func checkLoopback(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target %q: want http:// or https://", target)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("target %q: give only scheme, host and port", target)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("target %q: no host", target)
	}
	if strings.EqualFold(host, "localhost") {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("target %q: refusing a host name other than localhost (loopback only: use 127.0.0.1 or ::1)", target)
	}
	if !ip.IsLoopback() {
		return nil, fmt.Errorf("target %q: refusing %s, not a loopback address (loopback only)", target, ip)
	}
	return u, nil
}

// client talks to the mall: one keep-alive connection pool sized to the
// largest number of concurrent workers.
type client struct {
	base string
	hc   *http.Client
}

func newClient(base string, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// call is one request.
type call struct {
	method string
	path   string
	token  string
	body   any
	header map[string]string
}

// answer is a response with its body read.
type answer struct {
	status int
	body   []byte
}

// code is the error code of an error answer ({"error": {"code"}}), or the
// status when there is none.
func (a answer) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(a.body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return fmt.Sprintf("status %d", a.status)
}

func (a answer) decode(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("decode %d answer: %w", a.status, err)
	}
	return nil
}

// do sends c and reads the whole answer; the duration is from sending to
// the last byte read.
func (cl *client) do(ctx context.Context, c call) (answer, time.Duration, error) {
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return answer{}, 0, err
		}
		body = bytes.NewReader(b)
	}
	target := cl.base + c.path
	if strings.HasPrefix(c.path, "http://") { // another loopback service (the simulator)
		target = c.path
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, body)
	if err != nil {
		return answer{}, 0, err
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := cl.hc.Do(req)
	if err != nil {
		return answer{}, time.Since(start), err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return answer{}, d, err
	}
	return answer{status: resp.StatusCode, body: b}, d, nil
}

// must sends c during setup and wants status want; the answer is decoded
// into out when out is not nil.
func (cl *client) must(ctx context.Context, want int, c call, out any) error {
	a, _, err := cl.do(ctx, c)
	if err != nil {
		return fmt.Errorf("%s %s: %w", c.method, c.path, err)
	}
	if a.status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, a.status, want, truncate(a.body, 300))
	}
	if out != nil {
		return a.decode(out)
	}
	return nil
}

// timed sends c and records it in r: a transport error or an answer whose
// status is not among ok is an error (described by its code).
func (cl *client) timed(ctx context.Context, r *recorder, c call, ok ...int) (answer, bool) {
	a, d, err := cl.do(ctx, c)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return a, false // the run ended mid-request: not the server's fault
		}
		r.fail(fmt.Sprintf("%s %s: %v", c.method, routeOf(c.path), err))
		return a, false
	}
	for _, s := range ok {
		if a.status == s {
			r.ok(d)
			return a, true
		}
	}
	r.fail(fmt.Sprintf("%s %s: %d %s", c.method, routeOf(c.path), a.status, a.code()))
	return a, false
}

// routeOf drops ids from a path so that error kinds group by route.
func routeOf(p string) string {
	p, _, _ = strings.Cut(p, "?")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0 || (i > 0 && parts[i-1] == "orders" && s != "") {
			parts[i] = "{}"
		}
	}
	return strings.Join(parts, "/")
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
