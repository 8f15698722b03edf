package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yutang/yutang/domain"
	"github.com/yutang/yutang/domain/attribution"
	"github.com/yutang/yutang/storage"
	"github.com/yutang/yutang/storage/storagetest"
)

// BenchmarkTouchIngestPGCost stores batches of 100 touches the way the
// track endpoint does (Attribution.InsertTouches on its own transaction)
// in two shapes: links=50 as BenchmarkAttributionTrack (server/) sends
// them (50 share links of a post and a KOC each, every batch through all
// of them, one event in ten an unknown code, a new anonymous visitor per
// batch, times spread over the last 100 minutes), and link=1 as the load
// tool's track operation does (one link, 8 visitors, one time per batch).
// It reports PostgreSQL's CPU per event: the CPU time of every process
// of the cluster (backends, WAL writer, checkpointer, autovacuum), read
// from /proc before and after. Wall time is meaningless on the shared
// machine; CPU time is not, though caches still make it vary: repeat.
// Needs the cluster on this host (pgrun's); -benchtime sets the batches.
//
//	go run ./storage/pglocal/pgrun -- go test -run '^$' -bench TouchIngestPGCost -benchtime 500x ./storage/
func BenchmarkTouchIngestPGCost(b *testing.B) {
	b.Run("links=50", func(b *testing.B) { touchIngestPGCost(b, false) })
	b.Run("link=1", func(b *testing.B) { touchIngestPGCost(b, true) })
}

func touchIngestPGCost(b *testing.B, oneLink bool) {
	url := storagetest.NewURL(b)
	x, err := storage.Open(url, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	now := time.Now()
	svc := attrService(x, now)
	st := storage.New(x).Attribution()
	var codes []string
	for i := range 50 {
		var sh int64
		if err := x.Get(&sh, `INSERT INTO shoppers (openid) VALUES ($1) RETURNING id`, fmt.Sprint("koc-", i)); err != nil {
			b.Fatal(err)
		}
		p, err := svc.CreateTouchpoint(ctx, domain.System, "", attribution.TouchpointInfo{Kind: attribution.KindPost, Name: fmt.Sprint("p", i), PostKind: attribution.PostMoments})
		if err != nil {
			b.Fatal(err)
		}
		l, err := svc.Share(ctx, attribution.ShareRequest{By: attribution.Sharer{ShopperID: sh}, PostID: p.ID})
		if err != nil {
			b.Fatal(err)
		}
		codes = append(codes, l.Code)
	}
	// Our one backend's parent is the postmaster.
	var backend int
	if err := x.Get(&backend, `SELECT pg_backend_pid()`); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", backend))
	if err != nil {
		b.Skip("the cluster is not on this host: ", err)
	}
	postmaster, _ := strconv.Atoi(strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))[1])
	batch := func(k int, run string) []attribution.TouchInput {
		ts := make([]attribution.TouchInput, 100)
		for j := range ts {
			code := codes[(k*7+j)%len(codes)]
			if j%10 == 9 {
				code = "unknowncode" + strconv.Itoa(j)
			}
			at := now.Add(-time.Duration(j) * time.Minute)
			if oneLink {
				code, at = codes[0], now
			}
			ts[j] = attribution.TouchInput{EventID: fmt.Sprintf("%s-%d-%d", run, k, j), Code: code, Scene: 1007,
				At: at, Chat: attribution.ChatSingle}
		}
		return ts
	}
	visitor := func(k int) attribution.Visitor {
		if oneLink {
			return attribution.Visitor{AnonID: fmt.Sprintf("v%d", k%8)}
		}
		return attribution.Visitor{AnonID: fmt.Sprintf("v%06d", k)}
	}
	// Warm up: caches, plans and the first rows of every rollup.
	for k := range 20 {
		if _, err := st.InsertTouches(ctx, visitor(k), batch(k, "warm"), now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	before, beforeBackend := clusterCPU(b, postmaster, backend)
	for k := range b.N {
		r, err := st.InsertTouches(ctx, visitor(k+20), batch(k, "run"), now)
		if err != nil {
			b.Fatal(err)
		}
		if r.Accepted != 100 {
			b.Fatalf("accepted %d of 100", r.Accepted)
		}
	}
	after, afterBackend := clusterCPU(b, postmaster, backend)
	b.StopTimer()
	b.ReportMetric(float64((after-before).Microseconds())/float64(b.N*100), "pg-µs/event")
	b.ReportMetric(float64((afterBackend-beforeBackend).Microseconds())/float64(b.N*100), "backend-µs/event")
}

// clusterCPU is the CPU time (user + system) used so far by the postmaster
// and its children, living ones (a backend that exits takes its time with
// it, so the benchmark keeps one connection open), and by backend alone.
func clusterCPU(b *testing.B, postmaster, backend int) (all, one time.Duration) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command's closing parenthesis: state ppid … utime(14) stime(15).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ppid, _ := strconv.Atoi(f[1])
		if pid != postmaster && ppid != postmaster {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
		if pid == backend {
			one = time.Duration(u+s) * 10 * time.Millisecond // USER_HZ is 100 on Linux
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, one
}
