package ovstest

import (
	"net"
	"os"
	"strings"
	"testing"
)

func TestStartVswitchd(t *testing.T) {
	i := Start(t, Options{Vswitchd: true, ExtraSchemas: []string{VtepSchema}, Remotes: []string{"ptcp:0:127.0.0.1"}})
	if len(i.DBSock) >= 108 {
		t.Fatalf("socket path too long: %s", i.DBSock)
	}
	i.Vsctl(t, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy",
		"--", "add-port", "br0", "p1", "--", "set", "interface", "p1", "type=dummy", "ofport_request=7")
	if got := strings.TrimSpace(i.Vsctl(t, "get", "interface", "p1", "ofport")); got != "7" {
		t.Errorf("ofport = %q, want 7", got)
	}
	if out := i.Ofctl(t, "show", "br0"); !strings.Contains(out, "7(p1)") {
		t.Errorf("ovs-ofctl show br0 lacks port 7(p1):\n%s", out)
	}
	if out := i.Appctl(t, Vswitchd, "dpif/show"); !strings.Contains(out, "dummy@") {
		t.Errorf("dpif/show does not show a dummy datapath:\n%s", out)
	}
	// The vtep database is served too.
	if out := i.Run(t, "ovsdb-client", "list-dbs", i.DBRemote()); !strings.Contains(out, "hardware_vtep") {
		t.Errorf("list-dbs = %q, want hardware_vtep", out)
	}
	remote := i.Remote(t, "ptcp:0:127.0.0.1")
	addr := strings.TrimPrefix(remote, "tcp:")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", remote, err)
	}
	c.Close()

	i.StopVswitchd()
	if _, err := i.RunErr("ovs-appctl", "-t", Vswitchd, "version"); err == nil {
		t.Error("ovs-vswitchd still answers after StopVswitchd")
	}
	if err := i.StartVswitchd(); err != nil {
		t.Fatal(err)
	}
	i.Vsctl(t, "add-br", "br1", "--", "set", "bridge", "br1", "datapath_type=dummy")

	if err := i.RestartOvsdb(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(i.Vsctl(t, "list-br")); got != "br0\nbr1" {
		t.Errorf("list-br after restart = %q", got)
	}
	if r2 := i.Remote(t, "ptcp:0:127.0.0.1"); r2 == "" {
		t.Error("no remote after restart")
	}
}

func TestCleanupRemovesDir(t *testing.T) {
	var dir string
	t.Run("inner", func(t *testing.T) {
		i := Start(t, Options{})
		dir = i.Dir
		i.Vsctl(t, "add-br", "brx")
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after cleanup", dir)
	}
}
