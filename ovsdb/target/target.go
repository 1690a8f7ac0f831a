package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Scheme is the connection method of a Target, spelled as OVS spells it.
type Scheme string

// The connection methods OVS documents in ovsdb(7) and ovs-vswitchd.conf.db(5).
const (
	TCP   Scheme = "tcp"
	SSL   Scheme = "ssl"
	Unix  Scheme = "unix"
	PTCP  Scheme = "ptcp"
	PSSL  Scheme = "pssl"
	PUnix Scheme = "punix"
)

// MaxUnixPath is the longest socket path Linux accepts: sun_path holds 108
// bytes including the terminating NUL. OVS works around the limit with
// /proc/self/fd tricks, Go's net package does not, so ferry refuses longer
// paths up front instead of failing later with "invalid argument".
const MaxUnixPath = 107

// Target is a connection method in OVS syntax: an active target (tcp:, ssl:,
// unix:) that ferry dials, or a passive one (ptcp:, pssl:, punix:) that ferry
// listens on. The same syntax serves OVSDB and OpenFlow.
//
// Host is an IP address or, for active targets, a DNS name; for passive
// targets an empty Host means every IPv4 address, as in OVS. Port 0 is
// allowed only for passive targets (the kernel picks a port). Path is the
// socket path of unix: and punix: targets, relative to the working directory
// unless absolute.
type Target struct {
	Scheme Scheme
	Host   string
	Port   int
	Path   string
}

// Parse parses one target such as "tcp:192.0.2.1:6640",
// "ssl:[2001:db8::1]:6640", "unix:/run/ferry/nb.sock", "ptcp:6653",
// "ptcp:6653:127.0.0.1", "pssl:6640:[::]" or "punix:/run/ferry/of.sock".
func Parse(s string) (Target, error) {
	method, rest, ok := strings.Cut(s, ":")
	if !ok {
		if s == "" {
			return Target{}, errors.New("ovsdb: empty target")
		}
		return Target{}, targetErr(s, "missing method (tcp:, ssl:, unix:, ptcp:, pssl: or punix:)")
	}
	t := Target{Scheme: Scheme(method)}
	switch t.Scheme {
	case TCP, SSL:
		host, port, err := splitActive(rest)
		if err != nil {
			return Target{}, targetErr(s, "%s", err)
		}
		t.Host, t.Port = host, port
	case PTCP, PSSL:
		host, port, err := splitPassive(rest)
		if err != nil {
			return Target{}, targetErr(s, "%s", err)
		}
		t.Host, t.Port = host, port
	case Unix, PUnix:
		if rest == "" {
			return Target{}, targetErr(s, "missing socket path")
		}
		if err := checkUnixPath(rest); err != nil {
			return Target{}, targetErr(s, "%s", err)
		}
		t.Path = rest
	default:
		return Target{}, targetErr(s, "unknown method %q (want tcp, ssl, unix, ptcp, pssl or punix)", method)
	}
	return t, nil
}

// ParseActive is Parse for places that dial: it refuses passive targets.
func ParseActive(s string) (Target, error) {
	t, err := Parse(s)
	if err != nil {
		return Target{}, err
	}
	if !t.Active() {
		return Target{}, targetErr(s, "passive target where an active one (tcp:, ssl:, unix:) is needed")
	}
	return t, nil
}

// ParsePassive is Parse for places that listen: it refuses active
// targets.
func ParsePassive(s string) (Target, error) {
	t, err := Parse(s)
	if err != nil {
		return Target{}, err
	}
	if t.Active() {
		return Target{}, targetErr(s, "active target where a passive one (ptcp:, pssl:, punix:) is needed")
	}
	return t, nil
}

// ParseList parses a comma-separated list, the way OVS names the members of
// a clustered database: "tcp:192.0.2.1:6641,tcp:192.0.2.2:6641".
func ParseList(s string) ([]Target, error) {
	return parseList(s, Parse)
}

// ParseActiveList is ParseList refusing passive targets.
func ParseActiveList(s string) ([]Target, error) {
	return parseList(s, ParseActive)
}

func parseList(s string, parse func(string) (Target, error)) ([]Target, error) {
	var ts []Target
	for elem := range strings.SplitSeq(s, ",") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			return nil, fmt.Errorf("ovsdb: targets %q: empty element", s)
		}
		t, err := parse(elem)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func targetErr(s, format string, args ...any) error {
	return fmt.Errorf("ovsdb: target %q: %s", s, fmt.Sprintf(format, args...))
}

// splitActive splits "HOST:PORT" or "[IPV6]:PORT".
func splitActive(s string) (host string, port int, err error) {
	if s == "" {
		return "", 0, errors.New("missing address and port")
	}
	var portStr string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, errors.New("missing ] after IPv6 address")
		}
		host, after := s[1:end], s[end+1:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return "", 0, fmt.Errorf("bad IPv6 address %q", host)
		}
		if err := checkDialable(a); err != nil {
			return "", 0, err
		}
		if after == "" {
			return "", 0, errors.New("missing port")
		}
		if after[0] != ':' {
			return "", 0, fmt.Errorf("unexpected %q after IPv6 address", after)
		}
		port, err := parsePort(after[1:], 1)
		return host, port, err
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, errors.New("missing port")
	}
	host, portStr = s[:i], s[i+1:]
	if strings.Contains(host, ":") {
		return "", 0, errors.New("IPv6 address must be in brackets, e.g. tcp:[::1]:6640")
	}
	if host == "" {
		return "", 0, errors.New("missing address")
	}
	if err := checkHost(host); err != nil {
		return "", 0, err
	}
	port, err = parsePort(portStr, 1)
	return host, port, err
}

// splitPassive splits "PORT" or "PORT:IP"; the IP may be bracketed.
func splitPassive(s string) (host string, port int, err error) {
	portStr, ip, hasIP := strings.Cut(s, ":")
	port, err = parsePort(portStr, 0)
	if err != nil {
		return "", 0, err
	}
	if !hasIP {
		return "", port, nil
	}
	if ip == "" {
		return "", 0, errors.New("missing IP address after port")
	}
	bare := ip
	if strings.HasPrefix(ip, "[") {
		if !strings.HasSuffix(ip, "]") {
			return "", 0, errors.New("missing ] after IPv6 address")
		}
		bare = ip[1 : len(ip)-1]
	}
	a, err := netip.ParseAddr(bare)
	if err != nil || (bare != ip && !a.Is6()) {
		return "", 0, fmt.Errorf("bad IP address %q (a passive target binds to an IP address)", ip)
	}
	return bare, port, nil
}

func parsePort(s string, lowest int) (int, error) {
	if s == "" {
		return 0, errors.New("missing port")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad port %q", s)
		}
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < lowest || p > 65535 {
		return 0, fmt.Errorf("port %s out of range %d-65535", s, lowest)
	}
	return p, nil
}

// checkHost accepts IP addresses and DNS names. Something made only of digits
// and dots is meant as an IPv4 address, so it must be one: "10.0.0.256" is a
// typo, not a host name.
func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil {
		return checkDialable(a)
	}
	if strings.Trim(h, "0123456789.") == "" {
		return fmt.Errorf("bad IP address %q", h)
	}
	if len(h) > 253 {
		return fmt.Errorf("bad host name %q: longer than 253 bytes", h)
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad host name %q", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("bad host name %q", h)
			}
		}
	}
	return nil
}

// checkDialable refuses addresses an active target cannot mean: the
// unspecified address (Linux dials it as loopback, so tcp:0.0.0.0:6640
// would silently reach this machine), broadcast and multicast (TCP has
// neither).
func checkDialable(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("unspecified address %s: give the address of the host to dial", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("broadcast address %s cannot be dialled", a)
	case a.IsMulticast():
		return fmt.Errorf("multicast address %s cannot be dialled", a)
	}
	return nil
}

func checkUnixPath(p string) error {
	// Targets are stored as OVSDB strings (UTF-8) and shown to operators:
	// a control character or surrounding space would name a socket no one
	// can see or type, and a NUL is cut short by the kernel.
	if !utf8.ValidString(p) {
		return errors.New("socket path is not valid UTF-8")
	}
	if strings.TrimSpace(p) != p {
		return fmt.Errorf("socket path %q starts or ends with a space", p)
	}
	if i := strings.IndexFunc(p, unicode.IsControl); i >= 0 {
		return fmt.Errorf("socket path %q has a control character at byte %d", p, i)
	}
	// A directory is never a socket: "unix:/", "unix:/run/" or
	// "unix:/run/.." would dial (or, passive, remove and bind) a
	// directory entry instead of the socket the operator meant.
	if base := path.Base(p); strings.HasSuffix(p, "/") || base == "." || base == ".." || base == "/" {
		return fmt.Errorf("socket path %q names a directory, not a socket", p)
	}
	if len(p) > MaxUnixPath {
		return fmt.Errorf("socket path is %d bytes, more than the %d a unix socket address holds", len(p), MaxUnixPath)
	}
	return nil
}

// String returns the target in OVS syntax; Parse(t.String()) == t.
func (t Target) String() string {
	switch t.Scheme {
	case TCP, SSL:
		return string(t.Scheme) + ":" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	case PTCP, PSSL:
		s := string(t.Scheme) + ":" + strconv.Itoa(t.Port)
		if t.Host != "" {
			if strings.Contains(t.Host, ":") {
				return s + ":[" + t.Host + "]"
			}
			return s + ":" + t.Host
		}
		return s
	case Unix, PUnix:
		return string(t.Scheme) + ":" + t.Path
	case "":
		return ""
	}
	return string(t.Scheme) + ":?"
}

// Active reports whether ferry dials the target (tcp:, ssl:, unix:) rather
// than listening on it.
func (t Target) Active() bool {
	return t.Scheme == TCP || t.Scheme == SSL || t.Scheme == Unix
}

// TLS reports whether the target uses TLS (ssl:, pssl:).
func (t Target) TLS() bool {
	return t.Scheme == SSL || t.Scheme == PSSL
}

// Network returns the Go network name for net.Dial and net.Listen.
func (t Target) Network() string {
	switch t.Scheme {
	case Unix, PUnix:
		return "unix"
	case PTCP, PSSL:
		// OVS binds a passive target without an address, or with an IPv4
		// one, to IPv4 only; Go's "tcp" would also accept IPv6 there.
		if a, err := netip.ParseAddr(t.Host); t.Host == "" || err == nil && a.Is4() {
			return "tcp4"
		}
	}
	return "tcp"
}

// Address returns the address for net.Dial and net.Listen: HOST:PORT or the
// socket path.
func (t Target) Address() string {
	switch t.Scheme {
	case Unix, PUnix:
		return t.Path
	case PTCP, PSSL:
		if t.Host == "" {
			return net.JoinHostPort("0.0.0.0", strconv.Itoa(t.Port))
		}
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// Endpoint returns the active target in the form libovsdb's
// client.WithEndpoint expects. Unix socket paths are made absolute, because
// libovsdb silently replaces a relative one by its default socket.
func (t Target) Endpoint() (string, error) {
	if !t.Active() {
		return "", fmt.Errorf("ovsdb: target %q is not active", t)
	}
	ep := t.String()
	if t.Scheme == Unix {
		p, err := filepath.Abs(t.Path)
		if err != nil {
			return "", fmt.Errorf("ovsdb: target %q: %w", t, err)
		}
		if err := checkUnixPath(p); err != nil {
			return "", targetErr(t.String(), "%s", err)
		}
		ep = "unix:" + p
	}
	// libovsdb runs endpoints through url.Parse; refuse what it would
	// mangle (a path with '?', '#' or '%') instead of dialing elsewhere.
	u, err := url.Parse(ep)
	if err != nil || (t.Scheme == Unix && (u.Path != ep[len("unix:"):] || u.Opaque != "")) ||
		(t.Scheme != Unix && u.Opaque != ep[len(t.Scheme)+1:]) {
		return "", targetErr(t.String(), "cannot be passed to libovsdb (it would misread the URL)")
	}
	return ep, nil
}

// Dial connects to an active target. tlsConfig is required for ssl: targets
// and ignored otherwise.
func (t Target) Dial(ctx context.Context, tlsConfig *tls.Config) (net.Conn, error) {
	if !t.Active() {
		return nil, fmt.Errorf("ovsdb: cannot dial passive target %q", t)
	}
	if t.Scheme == Unix {
		if err := checkUnixPath(t.Path); err != nil {
			return nil, targetErr(t.String(), "%s", err)
		}
	}
	if t.Scheme == SSL {
		if tlsConfig == nil {
			return nil, fmt.Errorf("ovsdb: target %q needs a TLS configuration", t)
		}
		d := tls.Dialer{Config: tlsConfig}
		return d.DialContext(ctx, "tcp", t.Address())
	}
	var d net.Dialer
	return d.DialContext(ctx, t.Network(), t.Address())
}

// Listen listens on a passive target. tlsConfig, with a certificate, is
// required for pssl: targets and ignored otherwise. A punix: socket file left
// behind by a dead process is replaced; one with a live listener is not.
func (t Target) Listen(tlsConfig *tls.Config) (net.Listener, error) {
	if t.Active() || t.Scheme == "" {
		return nil, fmt.Errorf("ovsdb: cannot listen on active target %q", t)
	}
	if t.Scheme == PSSL {
		if tlsConfig == nil || (len(tlsConfig.Certificates) == 0 && tlsConfig.GetCertificate == nil && tlsConfig.GetConfigForClient == nil) {
			return nil, fmt.Errorf("ovsdb: target %q needs a TLS configuration with a certificate", t)
		}
	}
	if t.Scheme == PUnix {
		if err := checkUnixPath(t.Path); err != nil {
			return nil, targetErr(t.String(), "%s", err)
		}
		RemoveStaleSocket(t.Path)
	}
	l, err := net.Listen(t.Network(), t.Address())
	if err != nil {
		return nil, fmt.Errorf("ovsdb: listen on %q: %w", t, err)
	}
	if t.Scheme == PSSL {
		l = tls.NewListener(l, tlsConfig)
	}
	return l, nil
}

// RemoveStaleSocket removes a socket file nobody listens on, so that a
// restarted daemon can bind again after a crash.
func RemoveStaleSocket(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}

// MarshalText implements encoding.TextMarshaler, so a Target can be a flag
// (flag.TextVar) or a JSON string.
func (t Target) MarshalText() ([]byte, error) {
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (t *Target) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}
