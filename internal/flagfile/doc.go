// Package flagfile reads a daemon's configuration file: one flag setting
// per line, so that every command-line flag can live in the file and the
// file needs no documentation of its own beyond the flags'.
//
//	# comment
//	api = 127.0.0.1:8470
//	--openflow=ptcp:6653:198.18.255.1   # the flag's own spelling works too
//	data-dir = "/var/lib/ferry"          # double quotes keep a leading/trailing space or a " #"
//	metrics-auth                         # a boolean flag alone means true
//
// Flags given on the command line win over the file. A name the flag set
// does not know, or a name given twice, is an error naming the line.
package flagfile
