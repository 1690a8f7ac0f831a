package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by `make build`:
//
//	-X github.com/ferry-sdn/ferry/internal/version.Version=$(git describe --always --dirty)
//	-X github.com/ferry-sdn/ferry/internal/version.Commit=$(git rev-parse HEAD)
//
// Empty means "not stamped": Get falls back to the build information.
var (
	Version string
	Commit  string
)

// Info is one binary's identity.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

// Get returns the stamped version and commit, or what the toolchain
// recorded, or "unknown".
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(Version, Commit, bi)
}

func get(ver, commit string, bi *debug.BuildInfo) Info {
	info := Info{Version: ver, Commit: commit, GoVersion: runtime.Version()}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			var rev string
			var dirty bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if rev != "" && dirty {
				rev += "-dirty"
			}
			info.Commit = rev
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
	}
	if info.Version == "" {
		info.Version = "unknown"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is the line `--version` prints, after the program's name:
// "0.3.0-12-gabcdef0 (commit abcdef0…, go1.26.8)".
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
