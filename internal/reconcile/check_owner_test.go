package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestCheckGatewayOwnerOnly: a replica that does not drive a gateway
// refuses to check it and names the replica that does.
func TestCheckGatewayOwnerOnly(t *testing.T) {
	c := New(Config{Ownership: &grants{owned: map[string]uint64{}}, Logger: testLogger(t)})
	_, err := c.CheckGateway(context.Background(), "gw1")
	if !errors.Is(err, model.ErrNotOwner) || !strings.Contains(err.Error(), "replica b") {
		t.Fatalf("check on a non-owner: %v, want ErrNotOwner naming replica b", err)
	}
}
