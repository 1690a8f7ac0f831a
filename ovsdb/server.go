package ovsdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for ServerConfig.
const (
	DefaultServerFile   = "nb.db"
	DefaultStopTimeout  = 5 * time.Second
	DefaultStartTimeout = 15 * time.Second
)

// ServerConfig configures RunServer.
type ServerConfig struct {
	// DataDir holds the database and everything the server creates: for
	// File "nb.db", nb.ovsschema, nb.sock, nb.ctl, nb.pid and nb.log.
	// It is created if missing.
	DataDir string
	// Schema is the .ovsschema JSON the database must follow, e.g.
	// nb.SchemaJSON.
	Schema []byte
	// File is the database file name inside DataDir; "" means "nb.db".
	File string
	// Remotes are extra passive targets the server listens on (e.g.
	// ptcp:6641:127.0.0.1 for ovsdb-client), beside its unix socket.
	Remotes []Target
	// Logger receives lifecycle messages and ovsdb-server's errors; nil
	// discards them.
	Logger *slog.Logger
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL;
	// zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// StartTimeout bounds the wait for the socket when ctx has no earlier
	// deadline; zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// ServerBin and ToolBin override the ovsdb-server and ovsdb-tool
	// executables; "" looks them up in PATH.
	ServerBin, ToolBin string
}

// Server is an ovsdb-server child process serving one database file.
type Server struct {
	target  Target
	pidfile string
	log     *slog.Logger
	stopTO  time.Duration
	cmd     *exec.Cmd
	stderr  *lineLog

	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// serverFiles are the paths RunServer derives from ServerConfig.
type serverFiles struct {
	dir, db, schema, sock, ctl, pid, log string
}

func (cfg *ServerConfig) files() (serverFiles, error) {
	if cfg.DataDir == "" {
		return serverFiles{}, errors.New("ovsdb: server: no data directory")
	}
	file := cfg.File
	if file == "" {
		file = DefaultServerFile
	}
	if file != filepath.Base(file) || file == "." || file == ".." {
		return serverFiles{}, fmt.Errorf("ovsdb: server: database file %q must be a plain file name", file)
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return serverFiles{}, fmt.Errorf("ovsdb: server: %w", err)
	}
	base := filepath.Join(dir, strings.TrimSuffix(file, filepath.Ext(file)))
	f := serverFiles{
		dir:    dir,
		db:     filepath.Join(dir, file),
		schema: base + ".ovsschema",
		sock:   base + ".sock",
		ctl:    base + ".ctl",
		pid:    base + ".pid",
		log:    base + ".log",
	}
	for _, p := range []string{f.sock, f.ctl} {
		if len(p) > maxUnixPath {
			return serverFiles{}, fmt.Errorf("ovsdb: server: socket path %s is %d bytes, more than the %d a unix socket address holds: use a shorter data directory",
				p, len(p), maxUnixPath)
		}
	}
	return f, nil
}

// RunServer prepares the database in cfg.DataDir and starts ovsdb-server on
// it, returning once the server accepts connections on Target. ctx bounds
// the start only; the server runs until Stop, or until this process dies
// (the kernel then sends it SIGTERM).
//
// The database is created on first use. When cfg.Schema differs from the
// database's schema (a newer ferry), the database is converted with
// ovsdb-tool convert after a backup copy (FILE.VERSION.bak); rows and
// columns both schemas know are kept. A database newer than cfg.Schema is
// refused rather than converted, since that would drop data.
func RunServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	f, err := cfg.files()
	if err != nil {
		return nil, err
	}
	if len(cfg.Schema) == 0 {
		return nil, errors.New("ovsdb: server: no schema")
	}
	for _, r := range cfg.Remotes {
		if r.Active() {
			return nil, fmt.Errorf("ovsdb: server: remote %q is not a passive target", r)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("db", f.db)
	serverBin, toolBin := cfg.ServerBin, cfg.ToolBin
	if serverBin == "" {
		serverBin = "ovsdb-server"
	}
	if toolBin == "" {
		toolBin = "ovsdb-tool"
	}
	stopTO := cfg.StopTimeout
	if stopTO <= 0 {
		stopTO = DefaultStopTimeout
	}
	startTO := cfg.StartTimeout
	if startTO <= 0 {
		startTO = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, startTO)
	defer cancel()

	if err := os.MkdirAll(f.dir, 0o750); err != nil {
		return nil, fmt.Errorf("ovsdb: server: %w", err)
	}
	if err := stopStale(f, stopTO, logger); err != nil {
		return nil, err
	}
	tool := ovsdbTool{bin: toolBin, ctx: ctx}
	if err := prepareDB(tool, f, cfg.Schema, logger); err != nil {
		return nil, err
	}

	// The socket of a server that was killed is still there; ovsdb-server
	// would refuse to bind it.
	if err := os.Remove(f.sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ovsdb: server: %w", err)
	}
	args := []string{
		// Everything is in the log file; the console (forwarded to
		// Logger) carries only errors, and fatal errors before logging
		// is set up. It must come first to apply to --log-file's message.
		"-vconsole:err",
		f.db,
		"--remote=punix:" + f.sock,
		"--pidfile=" + f.pid,
		"--log-file=" + f.log,
		"--unixctl=" + f.ctl,
		"--no-chdir",
	}
	for _, r := range cfg.Remotes {
		args = append(args, "--remote="+r.String())
	}
	cmd := exec.Command(serverBin, args...)
	// Keep whatever the server opens by default (run and log directories)
	// inside DataDir rather than the host's /var/run/openvswitch.
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+f.dir, "OVS_DBDIR="+f.dir, "OVS_LOGDIR="+f.dir)
	s := &Server{
		target:  Target{Scheme: Unix, Path: f.sock},
		pidfile: f.pid,
		log:     logger,
		stopTO:  stopTO,
		cmd:     cmd,
		stderr:  &lineLog{log: logger},
		done:    make(chan struct{}),
	}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Die with ferryd, even when ferryd is killed with SIGKILL.
		Pdeathsig: syscall.SIGTERM,
		// A Ctrl-C on ferryd's terminal goes to the whole foreground
		// process group; ferryd, not the terminal, decides when the
		// database stops.
		Setpgid: true,
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits, not
		// when the process does. Go terminates threads whose goroutine
		// exits while locked to them (netns code does that on purpose),
		// so the forking goroutine keeps its own thread for as long as
		// the child lives.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("ovsdb: server: start %s: %w", serverBin, err)
	}
	if err := s.waitReady(ctx, f); err != nil {
		s.Stop()
		return nil, err
	}
	logger.Info("ovsdb: server started", "pid", cmd.Process.Pid, "target", s.target.String())
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, f serverFiles) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.Dial("unix", f.sock)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("ovsdb: server: ovsdb-server exited during start (%v): %s", s.waitErr, s.failureText(f.log))
		case <-ctx.Done():
			return fmt.Errorf("ovsdb: server: no socket at %s: %w: %s", f.sock, ctx.Err(), s.failureText(f.log))
		case <-t.C:
		}
	}
}

// failureText is what ovsdb-server said before failing: its stderr, or
// else the end of its log file.
func (s *Server) failureText(logFile string) string {
	if t := s.stderr.tail(); t != "" {
		return t
	}
	b, _ := os.ReadFile(logFile)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "; ")
}

// Target returns the server's unix socket target, DataDir/NAME.sock.
func (s *Server) Target() Target { return s.target }

// Pid returns the ovsdb-server process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Done is closed when ovsdb-server has exited, whether by Stop or not;
// ferryd cannot work without its database and should treat an unexpected
// exit as fatal.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop terminates ovsdb-server: SIGTERM, then SIGKILL if it has not exited
// after the stop timeout. It returns once the process is gone, with an
// error only if it could not be stopped. Stop may be called more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			return
		case <-time.After(s.stopTO):
		}
		s.log.Warn("ovsdb: server ignored SIGTERM, killing it", "pid", s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		select {
		case <-s.done:
			// SIGKILL leaves the pidfile behind.
			os.Remove(s.pidfile)
		case <-time.After(5 * time.Second):
			s.stopErr = fmt.Errorf("ovsdb: server: pid %d survived SIGKILL", s.cmd.Process.Pid)
		}
	})
	return s.stopErr
}

// stopStale stops an ovsdb-server left running on this database by an
// earlier ferryd. Normally the kernel stops it when its ferryd dies
// (Pdeathsig), but not if it was started by hand or by a tool with
// --detach, or if the SIGTERM raced with a long compaction; then it still
// holds the database lock and the pidfile, and a new server would refuse
// to start. The pidfile alone is not proof: the pid is trusted only if it
// is an ovsdb-server whose command line names this database file, so that
// a recycled pid never kills an unrelated process.
func stopStale(f serverFiles, timeout time.Duration, log *slog.Logger) error {
	b, err := os.ReadFile(f.pid)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !servesDB(pid, f.db) {
		return nil
	}
	log.Warn("ovsdb: stopping ovsdb-server left over from an earlier run", "pid", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil // gone meanwhile
	}
	if waitGone(pid, timeout) {
		return nil
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("ovsdb: server: earlier ovsdb-server pid %d on %s does not exit", pid, f.db)
	}
	os.Remove(f.pid)
	return nil
}

// servesDB reports whether pid is a live ovsdb-server with db on its
// command line.
func servesDB(pid int, db string) bool {
	if !alive(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) > 0 && filepath.Base(args[0]) == "ovsdb-server" && slices.Contains(args[1:], db)
}

// alive reports whether pid exists and is not a zombie (a zombie is dead,
// waiting for a parent that may never reap it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself
	// contain ") ".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return !alive(pid)
}

// prepareDB writes the schema next to the database, then creates or
// converts the database as needed.
func prepareDB(tool ovsdbTool, f serverFiles, schema []byte, log *slog.Logger) error {
	if !json.Valid(schema) {
		return errors.New("ovsdb: server: schema is not valid JSON")
	}
	if err := writeFileAtomic(f.schema, schema); err != nil {
		return err
	}
	schemaName, err := tool.run("schema-name", f.schema)
	if err != nil {
		return err
	}
	newVer, err := tool.run("schema-version", f.schema)
	if err != nil {
		return err
	}
	if _, err := os.Stat(f.db); errors.Is(err, os.ErrNotExist) {
		if _, err := tool.run("create", f.db, f.schema); err != nil {
			return err
		}
		log.Info("ovsdb: created database", "schema", schemaName, "version", newVer)
		return nil
	}
	dbName, err := tool.run("db-name", f.db)
	if err != nil {
		return err
	}
	if dbName != schemaName {
		return fmt.Errorf("ovsdb: server: %s holds database %q, not %q", f.db, dbName, schemaName)
	}
	needs, err := tool.run("needs-conversion", f.db, f.schema)
	if err != nil {
		return err
	}
	if needs != "yes" {
		return nil
	}
	oldVer, err := tool.run("db-version", f.db)
	if err != nil {
		return err
	}
	if compareVersions(oldVer, newVer) > 0 {
		return fmt.Errorf("ovsdb: server: %s has schema version %s, newer than %s: refusing to downgrade it (restore a backup or run a newer ferryd)",
			f.db, oldVer, newVer)
	}
	backup := f.db + "." + oldVer + ".bak"
	if err := copyFile(f.db, backup); err != nil {
		return err
	}
	if _, err := tool.run("convert", f.db, f.schema); err != nil {
		return err
	}
	log.Info("ovsdb: converted database", "from", oldVer, "to", newVer, "backup", backup)
	return nil
}

// compareVersions compares OVSDB schema versions "x.y.z" numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

type ovsdbTool struct {
	bin string
	ctx context.Context
}

// run runs ovsdb-tool and returns its trimmed standard output.
func (t ovsdbTool) run(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(t.ctx, t.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("ovsdb: server: ovsdb-tool %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(out.String()), nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("ovsdb: server: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ovsdb: server: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("ovsdb: server: backup: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("ovsdb: server: backup: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ovsdb: server: backup: %w", err)
	}
	return nil
}

// lineLog forwards ovsdb-server's console output to the logger and keeps
// the last few lines for error messages.
type lineLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	last []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
		if line == "" {
			continue
		}
		l.log.Log(context.Background(), vlogLevel(line), "ovsdb-server: "+line)
		l.last = append(l.last, line)
		if len(l.last) > 5 {
			l.last = l.last[1:]
		}
	}
	return len(p), nil
}

// vlogLevel maps the level field of an OVS log line
// (TIME|SEQ|MODULE|LEVEL|TEXT) to slog; anything else, such as a fatal
// error printed before logging is set up, is an error.
func vlogLevel(line string) slog.Level {
	f := strings.SplitN(line, "|", 5)
	if len(f) == 5 {
		switch f[3] {
		case "DBG":
			return slog.LevelDebug
		case "INFO":
			return slog.LevelInfo
		case "WARN":
			return slog.LevelWarn
		}
	}
	return slog.LevelError
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "; ")
}
