// Package deps holds no code: its test enforces the dependency direction of
// DESIGN.md §3 (ovsdb, openflow and vtep are leaves; rest never talks to
// devices; realize is pure).
package deps
