// Package vtep will drive hardware and software VTEPs (the hardware_vtep
// OVSDB schema) as their network virtualization controller. Today it holds
// the generated hardware_vtep models in hwvtep; gateway realization arrives
// with the VTEP gateway work.
package vtep
