package version

import (
	"runtime/debug"
	"testing"
)

func TestGet(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/ferry-sdn/ferry", Version: "v0.4.0"},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "0ab0ed0f"}, {Key: "vcs.modified", Value: "true"}},
	}
	for _, c := range []struct {
		name        string
		ver, commit string
		bi          *debug.BuildInfo
		want        Info
	}{
		{"stamped wins", "v1.2.3-4-gabc", "abcdef", vcs, Info{"v1.2.3-4-gabc", "abcdef", "go1.26.8"}},
		{"build info", "", "", vcs, Info{"v0.4.0", "0ab0ed0f-dirty", "go1.26.8"}},
		{"devel is not a version", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, Info{"unknown", "unknown", "go1.26.8"}},
	} {
		if got := get(c.ver, c.commit, c.bi); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := get("", "", nil); got.Version != "unknown" || got.Commit != "unknown" || got.GoVersion == "" {
		t.Errorf("no build info: %+v", got)
	}
	if s := (Info{"v1", "abc", "go1.26.8"}).String(); s != "v1 (commit abc, go1.26.8)" {
		t.Errorf("String: %q", s)
	}
}
