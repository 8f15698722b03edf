// Command bench is `make bench`: it runs the load tool against a throwaway
// mall, pinned as issue 18 measures: the mall (`yutang serve`, with the
// private PostgreSQL it starts, whose processes inherit the pinning) on CPU
// 0, the load tool on CPU 1. It starts the mall in a temporary directory
// with the demo data, waits for /readyz, runs the load tool, prints its
// table, the machine and the server's peak memory, runs `yutang check`
// (every ledger and invariant) on what the load left, and tears everything
// down. Arguments after -- go to the load tool.
//
//	go run ./server/loadtest/bench -yutang var/bin/yutang -loadtest var/bin/loadtest -- -d 5s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	yutang := flag.String("yutang", "var/bin/yutang", "the mall's binary (make build)")
	loadtest := flag.String("loadtest", "var/bin/loadtest", "the load tool's binary (go build ./server/loadtest)")
	serverCPU := flag.String("server-cpu", "0", "CPU list for the mall and its PostgreSQL (taskset -c)")
	loadCPU := flag.String("load-cpu", "1", "CPU list for the load tool (and, later, the WeChat Pay simulator)")
	keep := flag.Bool("keep", false, "keep the temporary directory (server log, PostgreSQL log) for a look afterwards")
	flag.Parse()
	args := flag.Args()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: taskset not found (Debian: util-linux); the numbers mean nothing unpinned")
		return 1
	}
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(os.Stderr, "bench: this machine has one CPU: the mall and the load share it (numbers not comparable)")
		*loadCPU = *serverCPU
	}
	for _, p := range []*string{yutang, loadtest} {
		abs, err := filepath.Abs(*p)
		if err == nil {
			*p = abs
		}
		if _, err := os.Stat(*p); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v (make bench builds it)\n", err)
			return 1
		}
	}

	dir, err := os.MkdirTemp("", "yutang-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	// PostgreSQL runs as the postgres user when we are root: it must reach
	// the cluster's directory (pglocal chowns dir/pg itself).
	_ = os.Chmod(dir, 0o755)
	if *keep {
		defer fmt.Fprintf(os.Stderr, "bench: kept %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	addr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	base := "http://" + addr

	// --- WeChat Pay simulator, out of process (issue 15) ---
	// `yutang wxpaysim` runs on the load CPU: its CPU (signing every
	// answer and notification) is WeChat's, not the mall's.
	simAddr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	simLog, err := os.Create(filepath.Join(dir, "wxpaysim.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer simLog.Close()
	sim := exec.Command(taskset, "-c", *loadCPU, *yutang, "wxpaysim")
	sim.Env = append(serverEnv(dir, addr), "YUTANG_WXPAYSIM_ADDR="+simAddr,
		"YUTANG_WXPAYSIM_DIR="+filepath.Join(dir, "wxpaysim"))
	sim.Stdout, sim.Stderr = simLog, simLog
	sim.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sim.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: wxpaysim:", err)
		return 1
	}
	defer func() {
		_ = sim.Process.Signal(os.Interrupt)
		_ = sim.Wait()
	}()
	simURL := "http://" + simAddr
	// --- end WeChat Pay simulator ---

	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer logFile.Close()
	srv := exec.Command(taskset, "-c", *serverCPU, *yutang, "serve")
	srv.Env = append(serverEnv(dir, addr), "YUTANG_WXPAY_SIM_URL="+simURL)
	srv.Stdout, srv.Stderr = logFile, logFile             // the welcome text and warn-level logs
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // we stop it ourselves, after the load tool
	fmt.Fprintf(os.Stderr, "bench: starting the mall on %s (CPU %s; PostgreSQL, demo data and logs in %s)\n", base, *serverCPU, dir)
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer teardown(srv, exited, dir)

	if err := waitReady(ctx, base, exited, 5*time.Minute); err != nil {
		fmt.Fprintf(os.Stderr, "bench: the mall did not become ready: %v\n%s\n", err, tail(logPath, 20))
		return 1
	}
	pins, err := pin(taskset, *serverCPU, srv.Process.Pid, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	fmt.Printf("machine: %s, %d CPUs, %s; load average before the run: %s\n", cpuModel(), runtime.NumCPU(), memTotal(), loadAvg())
	fmt.Printf("pinning: %s; load tool and the WeChat Pay simulator (yutang wxpaysim) on CPU %s\n", pins, *loadCPU)
	flags := "its defaults"
	if len(args) > 0 {
		flags = strings.Join(args, " ")
	}
	fmt.Printf("load tool flags: %s\n\n", flags)

	lt := exec.CommandContext(ctx, taskset, append([]string{"-c", *loadCPU, *loadtest, "-target", base,
		"-creds", filepath.Join(dir, "demo-credentials.txt"), "-sim", simURL}, args...)...)
	lt.Stdout, lt.Stderr = os.Stdout, os.Stderr
	lt.Cancel = func() error { return lt.Process.Signal(os.Interrupt) }
	lt.WaitDelay = 30 * time.Second
	code := 0
	if err := lt.Run(); err != nil {
		var ee *exec.ExitError
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "bench: interrupted")
			code = 130
		} else if errors.As(err, &ee) && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		} else {
			fmt.Fprintln(os.Stderr, "bench: load tool:", err)
			code = 1
		}
	}
	fmt.Printf("\nserver peak RSS (VmHWM of yutang serve): %s\n", procField(srv.Process.Pid, "VmHWM"))
	if ctx.Err() == nil {
		// Every ledger and invariant after the load (on the load CPU: it is
		// not part of the measurement).
		chk := exec.CommandContext(ctx, taskset, "-c", *loadCPU, *yutang, "check")
		chk.Env = serverEnv(dir, addr)
		out, err := chk.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		ok := 0
		for _, l := range lines {
			if strings.HasSuffix(l, " ok") {
				ok++
			}
		}
		if err != nil {
			fmt.Printf("yutang check after the load: FAILED (%v)\n%s\n", err, out)
			code = max(code, 1)
		} else {
			fmt.Printf("yutang check after the load: all %d invariants ok\n", ok)
		}
	}
	if t := tail(logPath, 0); strings.Contains(t, `"level":"ERROR"`) {
		fmt.Printf("the server logged errors; see below (warn and above):\n%s\n", grepLevel(logPath, `"level":"ERROR"`, 10))
	}
	return code
}

// serverEnv is the mall's environment: the caller's, minus anything that
// would point it at another database or configuration, plus a private
// PostgreSQL under dir, the demo data, cheap staff password hashes (the
// bench signs the demo admin in; argon2id's strong costs would only slow
// set-up) and warn-level logs.
func serverEnv(dir, addr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "TEST_DATABASE_URL" || strings.HasPrefix(k, "YUTANG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"YUTANG_ENV=development",
		"YUTANG_DATA_DIR="+dir,
		"YUTANG_HTTP_ADDR="+addr,
		"YUTANG_DEMO=true",
		"YUTANG_PASSWORD_HASH=cheap",
		"YUTANG_LOG_LEVEL=warn",
	)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(ctx context.Context, base string, exited <-chan error, limit time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		select {
		case err := <-exited:
			return fmt.Errorf("the mall exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := hc.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
	}
	return fmt.Errorf("not ready after %s", limit)
}

// pin makes sure the mall and every PostgreSQL process run on cpus: they
// inherit taskset's affinity (the mall starts pg_ctl, which starts the
// postmaster, which forks every backend), and `taskset -a -cp` re-pins any
// that does not, threads included. It returns a description of the pinning.
func pin(taskset, cpus string, serverPID int, dir string) (string, error) {
	pg := postgresPIDs(dir)
	if len(pg) == 0 {
		return "", errors.New("cannot find the PostgreSQL processes (no postmaster.pid under the bench directory)")
	}
	for _, pid := range append([]int{serverPID}, pg...) {
		if procField(pid, "Cpus_allowed_list") == cpus {
			continue
		}
		if out, err := exec.Command(taskset, "-a", "-cp", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			return "", fmt.Errorf("taskset -a -cp %s %d: %v: %s", cpus, pid, err, out)
		}
	}
	return fmt.Sprintf("yutang serve (pid %d) on CPU %s, PostgreSQL (%d processes) on CPU %s",
		serverPID, procField(serverPID, "Cpus_allowed_list"), len(pg), procField(pg[0], "Cpus_allowed_list")), nil
}

// postgresPIDs is the postmaster of the bench's cluster and its children.
func postgresPIDs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "pg", "data", "postmaster.pid"))
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil
	}
	pids := []int{pm}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if procField(pid, "PPid") == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procField reads one field of /proc/PID/status.
func procField(pid int, name string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// teardown stops the mall (which stops its PostgreSQL) and, should the
// mall not manage within a minute, the PostgreSQL itself.
func teardown(srv *exec.Cmd, exited <-chan error, dir string) {
	pg := postgresPIDs(dir)
	_ = syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "bench: the mall did not stop in 60 s; killing it")
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	if len(pg) > 0 && syscall.Kill(pg[0], 0) == nil {
		_ = syscall.Kill(pg[0], syscall.SIGINT) // PostgreSQL's fast shutdown
		for i := 0; i < 100 && syscall.Kill(pg[0], 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	fmt.Fprintln(os.Stderr, "bench: the mall and its PostgreSQL are stopped")
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if n == 0 {
		return string(b)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLevel(path, needle string, n int) string {
	var out []string
	for _, l := range strings.Split(tail(path, 0), "\n") {
		if strings.Contains(l, needle) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%.1f GiB RAM", float64(kb)/1024/1024)
		}
	}
	return "? RAM"
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
