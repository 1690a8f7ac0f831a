// Package sdnotify tells systemd about the daemon's state (sd_notify(3)):
// READY=1 once it serves, RELOADING=1/READY=1 around a SIGHUP reload,
// STOPPING=1 on the way out. It is the protocol in a dozen lines, one
// datagram to $NOTIFY_SOCKET, so that Type=notify needs no library;
// outside systemd it does nothing.
package sdnotify
