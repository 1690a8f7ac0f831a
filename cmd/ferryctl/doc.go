// Command ferryctl is the command-line client of ferry's REST API:
//
//	ferryctl switch create blue --vni 1001
//	ferryctl port create blue vm1 --iface-id iface-vm1
//	ferryctl wait blue
//	ferryctl status
//
// `ferryctl help` lists every command. The logic lives in internal/cli.
package main
