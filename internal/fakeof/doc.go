// Package fakeof is a behavioural model of an OpenFlow bridge holding
// ferry's flows and groups: give it a frame and an ingress port, and it
// answers where copies of the frame go. Tests use it to check what a
// pipeline does (who receives a broadcast, whether split horizon holds)
// instead of only what flows it contains, in the spirit of Faucet's
// fakeoftable.
package fakeof
