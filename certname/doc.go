// Package certname says whether a peer's certificate names a device.
// ferry's peers present certificates signed by the operator's CA (ovs-pki's
// switchca); the CA vouches for the name, and the name must be the device's
// (a chassis' name or system-id, a gateway's name or Physical_Switch):
// otherwise any host with a certificate could claim any other's bridge or
// database. It is a leaf, shared by the OpenFlow server, ferryd's OVSDB
// listener and ferryctl.
package certname
