// Package packaging holds what installs ferry like a Debian network
// daemon: the systemd unit (ferryd.service.in), the default
// configuration (ferryd.conf), the scripts behind make man, make install
// and make deb (man.sh, install.sh, deb.sh) and the package's maintainer
// scripts (deb/). Its tests check those files; it has no Go code to
// import.
package packaging
