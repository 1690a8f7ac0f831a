// Package model holds the immutable snapshot of ferry's northbound state that
// the realization functions consume: logical switches, their ports, and the
// registered chassis. A snapshot never changes after it is built; every
// reconcile pass works from one.
package model
