package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// recorder keeps every latency of one row exactly (no histogram buckets):
// a run is bounded by -n and -d, so a few hundred thousand samples at most.
// Each worker records into its own recorder; merge adds them up at the end,
// so the hot path takes no lock.
type recorder struct {
	lat    []time.Duration // successful answers only
	errors int
	errMsg map[string]int // a few distinct error descriptions, counted
}

func (r *recorder) ok(d time.Duration) { r.lat = append(r.lat, d) }

func (r *recorder) fail(msg string) {
	r.errors++
	if r.errMsg == nil {
		r.errMsg = map[string]int{}
	}
	if _, seen := r.errMsg[msg]; seen || len(r.errMsg) < 8 {
		r.errMsg[msg]++
	}
}

func (r *recorder) merge(o *recorder) {
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
	for m, n := range o.errMsg {
		if r.errMsg == nil {
			r.errMsg = map[string]int{}
		}
		if _, seen := r.errMsg[m]; seen || len(r.errMsg) < 8 {
			r.errMsg[m] += n
		}
	}
}

// requests is every answer and failure recorded.
func (r *recorder) requests() int { return len(r.lat) + r.errors }

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest sample such that at least p% of the samples are at
// or below it. Zero for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summary is one row of the table.
type summary struct {
	Op       string
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Note     string
	ErrMsg   map[string]int
}

// PerSec is requests per second over the measured wall time.
func (s summary) PerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

func summarize(op string, r *recorder, elapsed time.Duration) summary {
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	return summary{Op: op, Requests: r.requests(), Errors: r.errors, Elapsed: elapsed,
		P50: percentile(lat, 50), P99: percentile(lat, 99), ErrMsg: r.errMsg}
}

// report collects rows from the operations as they finish.
type report struct {
	mu   sync.Mutex
	rows []summary
	bad  []string // failed checks (oversell, lost payments…): the exit status
}

func (rp *report) add(s summary) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.rows = append(rp.rows, s)
}

func (rp *report) fail(format string, args ...any) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.bad = append(rp.bad, fmt.Sprintf(format, args...))
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// table renders the rows as one aligned text table.
func (rp *report) table() string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	head := []string{"operation", "requests", "req/s", "p50", "p99", "errors", "result"}
	cells := [][]string{head}
	for _, s := range rp.rows {
		cells = append(cells, []string{s.Op, fmt.Sprint(s.Requests), fmt.Sprintf("%.1f", s.PerSec()),
			ms(s.P50), ms(s.P99), fmt.Sprint(s.Errors), s.Note})
	}
	width := make([]int, len(head))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case i == len(row)-1:
				b.WriteString(c)
			case i == 0:
				b.WriteString(c + pad + "  ")
			default: // numbers right-aligned
				b.WriteString(pad + c + "  ")
			}
		}
		b.WriteString("\n")
	}
	line(cells[0])
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, row := range cells[1:] {
		line(row)
	}
	var errs []string
	for _, s := range rp.rows {
		msgs := make([]string, 0, len(s.ErrMsg))
		for m := range s.ErrMsg {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			errs = append(errs, fmt.Sprintf("  %s: %d× %s", s.Op, s.ErrMsg[m], m))
		}
	}
	if len(errs) > 0 {
		b.WriteString("\nerrors (first distinct kinds):\n" + strings.Join(errs, "\n") + "\n")
	}
	if len(rp.bad) > 0 {
		b.WriteString("\nFAILED CHECKS:\n  " + strings.Join(rp.bad, "\n  ") + "\n")
	}
	return b.String()
}
