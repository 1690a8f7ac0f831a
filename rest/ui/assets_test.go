package ui

import (
	"testing"
	"testing/fstest"
)

// TestUnknownAssetKind: an asset the handler has no content type for is
// refused when the handler is built (New panics, so ferryd's tests fail),
// never served sniffed.
func TestUnknownAssetKind(t *testing.T) {
	fsys := fstest.MapFS{"static/app.js": {Data: []byte("x")}, "static/app.js.map": {Data: []byte("{}")}}
	if _, err := newHandler(fsys, "static"); err == nil {
		t.Fatal("an asset named .map was accepted")
	}
	h, err := newHandler(fstest.MapFS{"static/app.js": {Data: []byte("x")}}, "static")
	if err != nil || len(h.Names()) != 1 || h.Names()[0] != "app.js" {
		t.Fatalf("newHandler: %v %v", h, err)
	}
	if n := len(New().Names()); n < 4 {
		t.Errorf("only %d assets embedded: %v", n, New().Names())
	}
}
