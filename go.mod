module github.com/ferry-sdn/ferry

go 1.26.0

replace antrea.io/libOpenflow => github.com/antrea-io/libOpenflow v0.15.0

require (
	antrea.io/libOpenflow v0.15.0 // indirect
	github.com/digitalocean/go-openvswitch v0.0.0-20241021184246-19e734367535 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	github.com/ovn-kubernetes/libovsdb v0.8.2-0.20260302130604-c07ce22366ac // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

tool github.com/ovn-kubernetes/libovsdb/cmd/modelgen
