// Package pglocal starts a private PostgreSQL cluster for development and
// tests from the machine's own PostgreSQL server binaries: initdb once, then
// pg_ctl start/stop. The cluster listens on 127.0.0.1 only, on its own port,
// with no Unix socket and a generated password (scram-sha-256).
//
// initdb refuses to run as root, so when the caller is root every PostgreSQL
// command runs as the unprivileged "postgres" user, and when that user cannot
// reach the requested directory (a checkout under /root, say) the cluster is
// kept under /var/tmp and the requested directory holds a symlink to it.
package pglocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say where and how to run a cluster.
type Options struct {
	// Dir holds the cluster: data/, port, password, postgres.log. A cluster
	// already there is reused with its data.
	Dir string
	// Throwaway tunes the server for tests (fsync off, more connections).
	Throwaway bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Cluster is a running private PostgreSQL.
type Cluster struct {
	Dir      string // the real directory (after following a symlink)
	Port     int
	User     string
	Password string
	bin      string
	cred     *syscall.Credential
	log      io.Writer
	borrowed bool // already running when we came: Stop leaves it running
}

const superuser = "yutang"

// URL returns a connection URL for database db.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// BinDir finds the directory of initdb and pg_ctl: on the PATH, else the
// newest /usr/lib/postgresql/*/bin (where Debian keeps them off the PATH).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("pglocal: PostgreSQL server binaries (initdb, pg_ctl) not found")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// EnsureBinaries finds the PostgreSQL server binaries and, when they are
// missing and the caller is root on a machine with apt-get, installs the
// distribution's postgresql package. Otherwise it fails with one sentence
// naming what to install.
func EnsureBinaries(ctx context.Context, log io.Writer) (string, error) {
	if d, err := BinDir(); err == nil {
		return d, nil
	}
	apt, aptErr := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || aptErr != nil {
		return "", errors.New("PostgreSQL 15 or newer is not installed: install your distribution's postgresql package (Debian: apt-get install postgresql) or set DATABASE_URL")
	}
	fmt.Fprintln(logOr(log), "pglocal: PostgreSQL not found; installing the postgresql package with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = logOr(log), logOr(log)
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("pglocal: apt-get %s: %w", args[0], err)
		}
	}
	return BinDir()
}

func logOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Start starts the cluster in opts.Dir, creating it first when it does not
// exist. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := EnsureBinaries(ctx, opts.Log)
	if err != nil {
		return nil, err
	}
	c := &Cluster{User: superuser, bin: bin, log: logOr(opts.Log)}
	if os.Geteuid() == 0 {
		cred, err := postgresCredential()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}
	dir, err := c.prepareDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	if err := c.ensureInit(ctx); err != nil {
		return nil, err
	}
	if err := c.start(ctx, opts.Throwaway); err != nil {
		return nil, err
	}
	return c, nil
}

func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("pglocal: running as root, and there is no unprivileged 'postgres' user to run PostgreSQL as (install the postgresql package or run as a normal user)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir makes dir usable by the user PostgreSQL runs as and returns the
// real directory.
func (c *Cluster) prepareDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("pglocal: create %s: %w", abs, err)
	}
	if c.cred == nil {
		return abs, nil
	}
	if err := os.Chown(abs, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return "", fmt.Errorf("pglocal: chown %s: %w", abs, err)
	}
	if c.reachable(abs) {
		return abs, nil
	}
	// The postgres user cannot reach the checkout (e.g. under /root): keep the
	// cluster in /var/tmp, under a name derived from the requested path, and
	// leave a symlink where it was asked for.
	sum := sha256.Sum256([]byte(abs))
	alt := filepath.Join("/var/tmp", "yutang-pg-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(alt, 0o700); err != nil {
		return "", fmt.Errorf("pglocal: create %s: %w", alt, err)
	}
	if err := os.Chown(alt, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return "", fmt.Errorf("pglocal: chown %s: %w", alt, err)
	}
	if entries, _ := os.ReadDir(abs); len(entries) == 0 {
		if err := os.Remove(abs); err == nil {
			_ = os.Symlink(alt, abs)
		}
	}
	fmt.Fprintf(c.log, "pglocal: the postgres user cannot reach %s; the cluster lives in %s\n", abs, alt)
	return alt, nil
}

func (c *Cluster) reachable(dir string) bool {
	cmd := exec.Command("/bin/sh", "-c", `cd "$1" && test -w .`, "sh", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd.Run() == nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) ensureInit(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err == nil {
		pw, err := os.ReadFile(filepath.Join(c.Dir, "password"))
		if err != nil {
			return fmt.Errorf("pglocal: cluster in %s has no password file: %w", c.Dir, err)
		}
		c.Password = strings.TrimSpace(string(pw))
		return nil
	}
	c.Password = randomHex(16)
	pwFile := filepath.Join(c.Dir, "initdb.pw")
	if err := c.writeFile(pwFile, c.Password+"\n"); err != nil {
		return err
	}
	defer os.Remove(pwFile)
	fmt.Fprintf(c.log, "pglocal: creating a PostgreSQL cluster in %s\n", c.dataDir())
	out, err := c.run(ctx, filepath.Join(c.bin, "initdb"), "-D", c.dataDir(), "-U", superuser,
		"--pwfile="+pwFile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	if err != nil {
		_ = os.RemoveAll(c.dataDir())
		return fmt.Errorf("pglocal: initdb: %w: %s", err, lastLines(out, 5))
	}
	return c.writeFile(filepath.Join(c.Dir, "password"), c.Password+"\n")
}

func (c *Cluster) writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
	}
	return nil
}

func (c *Cluster) start(ctx context.Context, throwaway bool) error {
	// A server already running on this cluster (a `serve` next to which an
	// operator runs `check`, say) is used as it is and left running.
	if _, err := c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "status"); err == nil {
		if b, err := os.ReadFile(filepath.Join(c.Dir, "port")); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && !portFree(p) {
				c.Port, c.borrowed = p, true
				fmt.Fprintf(c.log, "pglocal: using the PostgreSQL already running on 127.0.0.1:%d\n", p)
				return nil
			}
		}
		// running but unreachable (a leftover of a killed run): restart it
		_, _ = c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-m", "fast", "-w", "stop")
	}
	port, err := c.choosePort()
	if err != nil {
		return err
	}
	c.Port = port
	opts := []string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(port),
		"-c unix_socket_directories=''",
		"-c max_connections=200",
	}
	if throwaway {
		opts = append(opts, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
			"-c max_connections=400", "-c shared_buffers=256MB")
	}
	out, err := c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-l", filepath.Join(c.Dir, "postgres.log"),
		"-w", "-t", "60", "-o", strings.Join(opts, " "), "start")
	if err != nil {
		logTail, _ := os.ReadFile(filepath.Join(c.Dir, "postgres.log"))
		return fmt.Errorf("pglocal: pg_ctl start: %w: %s %s", err, lastLines(out, 3), lastLines(logTail, 5))
	}
	_ = c.writeFile(filepath.Join(c.Dir, "port"), strconv.Itoa(port)+"\n")
	fmt.Fprintf(c.log, "pglocal: PostgreSQL listening on 127.0.0.1:%d (data in %s)\n", port, c.dataDir())
	return nil
}

// choosePort reuses the port of the last run when it is free, else asks the
// kernel for a free one.
func (c *Cluster) choosePort() (int, error) {
	if b, err := os.ReadFile(filepath.Join(c.Dir, "port")); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && portFree(p) {
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Stop stops the server (fast shutdown: open sessions are ended), unless it
// was already running when Start found it.
func (c *Cluster) Stop() error {
	if c.borrowed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pglocal: pg_ctl stop: %w: %s", err, lastLines(out, 3))
	}
	fmt.Fprintln(c.log, "pglocal: PostgreSQL stopped")
	return nil
}

// Running reports whether the cluster's server is up.
func (c *Cluster) Running(ctx context.Context) bool {
	_, err := c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "status")
	return err == nil
}

// run runs a PostgreSQL command as the cluster's user, in its own process
// group so that a Ctrl-C meant for us does not reach the server directly: we
// stop it ourselves, cleanly.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.Bytes(), err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
