package main

import (
	"io"

	"github.com/ferry-sdn/ferry/internal/manpage"
	"github.com/ferry-sdn/ferry/internal/version"
)

// writeMan writes ferryd(8) (`ferryd --help-man`, run by make man): the
// options come from newFlags, so the page cannot list a flag the binary
// lacks.
func writeMan(w io.Writer) error {
	var cfg config
	return manpage.Write(w, manpage.Page{
		Name:     "ferryd",
		Section:  "8",
		Source:   "ferry " + version.Get().Version,
		Manual:   "ferry manual",
		Summary:  "the ferry Open vSwitch controller daemon",
		Synopsis: "[\\fIoptions\\fR]",
		Description: `ferryd spans layer-2 logical switches across Open vSwitch hypervisors and hardware_vtep gateways.
It serves a REST API (managed with ferryctl(1)), keeps the northbound database (its own ovsdb-server(1) in --data-dir unless --nb names one), accepts OpenFlow connections from the bridges it manages and runs one reconcile loop per registered chassis and gateway.

Every option can also be set in the configuration file (see CONFIGURATION FILE); an option given on the command line wins over the file.`,
		Flags:  newFlags(&cfg),
		Hidden: nil,
		Sections: []manpage.Section{
			{Title: "Configuration file", Body: `--config names it; the default is /etc/ferry/ferryd.conf, read when it exists (its absence is not an error, the absence of a file given with --config is).
One setting per line, the option's name without dashes, "=", and its value; the option's own spelling (--api=127.0.0.1:8470) is accepted too.
A line starting with "#" is a comment, as is the rest of a line after a "#" that follows a blank.
Double quotes (Go syntax) keep a value's leading or trailing blanks or a " #".
A boolean option alone (metrics-auth) means true.
An unknown name, a name given twice, or a bad value stops ferryd at start with the file and line named.
--config and --version cannot be set in the file.

	# /etc/ferry/ferryd.conf
	openflow = ptcp:6653:192.0.2.10
	api = 127.0.0.1:8470
	api-tokens = /etc/ferry/tokens
	log-format = json`},
			{Title: "Signals", Body: `SIGHUP reloads the --api-tokens file and the --api-cert, --api-key and --api-ca files (a file that fails to load leaves the previous one in force, with an error logged).
Other settings are read at start only: on SIGHUP ferryd reads the configuration file again and logs a warning naming every setting that differs from the running one, to take effect on the next restart.

SIGTERM and SIGINT stop ferryd. Devices keep their flows and OVSDB rows; a restarted ferryd with nothing changed sends no flow_mod.`},
			{Title: "Environment", Body: `NOTIFY_SOCKET: when set (systemd, Type=notify), ferryd sends READY=1 once its REST API serves, RELOADING=1 and READY=1 around a SIGHUP reload, and STOPPING=1.`},
			{Title: "Logs", Body: `ferryd logs with log/slog on stderr: logfmt text (key=value) by default, one JSON object per line with --log-format json. Under systemd, journalctl -u ferryd shows them.`},
			{Title: "Files", Body: `/etc/ferry/ferryd.conf: the configuration file.

/var/lib/ferry: --data-dir, ferryd's own northbound database (nb.db) and its ovsdb-server's socket.

/lib/systemd/system/ferryd.service: the systemd unit (Debian package; /usr/local/lib/systemd/system with make install).`},
			{Title: "See also", Body: `ferryctl(1), ovsdb-server(1), ovs-vsctl(8), vtep-ctl(8), systemd.service(5). The documentation in the source tree: docs/operations.md.`},
		},
	})
}
