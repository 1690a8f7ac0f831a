// Command ferryctl is the command-line client of ferry's REST API:
//
//	ferryctl switch create blue --vni 1001
//	ferryctl port create blue vm1 --iface-id iface-vm1
//	ferryctl wait blue
//	ferryctl status
//
// and, run on a hypervisor, prepares its Open vSwitch for ferry:
//
//	ferryctl host join --manager ptcp:6640:MGMT_IP --register --tunnel-ip IP
//
// `ferryctl help` lists every command. The logic lives in internal/cli.
package main
