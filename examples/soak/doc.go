// Package soak is ferry's fault-injection soak (`make soak`): in the
// namespace lab (package lab), with guests pinging each other all the time
// and a client making bounded random REST changes, it injects faults drawn
// at random from a seed — ferryd killed (SIGKILL) or stopped (SIGTERM) and
// started again on the same state, a hypervisor's ovs-vswitchd or
// ovsdb-server killed and restarted, ferryd's own northbound ovsdb-server
// killed (ferryd restarts it), a hypervisor's management or underlay link
// cut (down, or 100 % loss) — and after each heal checks the invariants:
//
//   - every device is back in step (connected, realized at the current
//     northbound generation, every switch realized) within 5 s of the heal;
//   - every bridge holds exactly what realize.DesiredChassis computes from
//     scratch from the northbound database and the hypervisors' observed
//     state (flows, groups, tunnel ports);
//   - no write the API acknowledged is lost;
//   - pings between guests lose nothing outside the windows of faults on
//     their path (a fault window runs from the injection to the heal plus
//     the time to get back in step plus a short settle);
//   - the API never answers 5xx, except a JSON 503 while the northbound
//     database is down;
//   - ferryd's RSS and goroutine count stay bounded.
//
// FERRY_SOAK_FAULTS (default 20) sets the number of faults,
// FERRY_SOAK_SEED the seed (default: time; always printed, so a failure
// can be replayed), FERRY_SOAK_LONG=1 the full cut durations (0.1–30 s;
// the default quick run uses 0.1–2 s). The soak stops injecting early
// when the test's -timeout comes near, so that cleanup always runs. It
// ends with a per-invariant summary (docs/reliability.md).
package soak
