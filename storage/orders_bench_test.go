package storage_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yutang/yutang/domain/order"
	"github.com/yutang/yutang/storage/pglocal"
	"github.com/yutang/yutang/storage/storagetest"
)

// BenchmarkOrderPlacement places orders through order.Service on the real
// database with 64 concurrent shoppers, each order one line of one unit:
// "distinct" gives every shopper their own SKU, "hot" sends everyone to one
// SKU (its row lock serialises the reservations). It reports orders/s and the
// p50/p99 latency of Place. Run with `make bench` (BENCHTIME=Nx for N rounds
// of 64×50 orders).
func BenchmarkOrderPlacement(b *testing.B) {
	for _, c := range []struct {
		name string
		skus int
	}{{"distinct", 64}, {"hot", 1}} {
		b.Run(c.name, func(b *testing.B) {
			const workers, perWorker = 64, 50
			db := storagetest.NewDB(b)
			db.SetMaxOpenConns(workers)
			db.SetMaxIdleConns(workers)
			f := newOrderFixture(b, db, c.skus, 10_000_000, workers)
			svc := newOrderService(db)
			ctx := context.Background()
			lat := make([][]time.Duration, workers)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sku := f.skus[w%len(f.skus)]
					for i := range perWorker * b.N {
						t0 := time.Now()
						_, err := svc.Place(ctx, order.PlaceInput{ShopperID: f.shoppers[w],
							Items:       []order.LineRequest{{SKUID: sku, Quantity: 1}},
							Fulfillment: pickup(f.storeID), IdempotencyKey: fmt.Sprintf("b-%d-%d", w, i)})
						if err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				b.Fatal("no order placed")
			}
			pct := func(p float64) float64 {
				return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "orders/s")
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+)`)

// BenchmarkPgbenchTPCB runs pgbench's TPC-B-like script on the same
// throwaway cluster (scale 16, 16 clients, 15 s), so that the order numbers
// above read as a share of what the database itself sustains.
func BenchmarkPgbenchTPCB(b *testing.B) {
	pgbench := pgbenchPath(b)
	url := storagetest.NewURL(b)
	if out, err := exec.Command(pgbench, "-i", "-q", "-s", "16", url).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	b.ResetTimer()
	out, err := exec.Command(pgbench, "-n", "-c", "16", "-j", "2", "-T", "15", url).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no tps in pgbench output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	b.ReportMetric(tps, "tps")
	b.ReportMetric(0, "ns/op")
}

// pgbenchPath finds pgbench beside the PostgreSQL binaries pglocal uses (the
// real directory when initdb is a symlink), else on PATH.
func pgbenchPath(b *testing.B) string {
	if bin, err := pglocal.BinDir(); err == nil {
		if real, err := filepath.EvalSymlinks(filepath.Join(bin, "initdb")); err == nil {
			if p := filepath.Join(filepath.Dir(real), "pgbench"); isFile(p) {
				return p
			}
		}
		if p := filepath.Join(bin, "pgbench"); isFile(p) {
			return p
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	if ps, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench"); len(ps) > 0 {
		return ps[len(ps)-1]
	}
	b.Fatal("pgbench not found: install the PostgreSQL client tools (postgresql-contrib / postgresql-client)")
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
