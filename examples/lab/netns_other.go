//go:build !linux

package lab

import (
	"context"
	"net"
	"net/http"
)

// DialContext fails: network namespaces need Linux.
func (l *Lab) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errNotLinux
}

// HTTPClient returns a client whose every request fails: network namespaces
// need Linux.
func (l *Lab) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.DialContext}}
}

// DialInNamespace fails: network namespaces need Linux.
func DialInNamespace(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	return nil, errNotLinux
}

// Send fails: network namespaces need Linux.
func (l *Lab) Send(ns, iface string, frames ...[]byte) error { return errNotLinux }
