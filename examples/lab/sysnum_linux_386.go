package lab

// The syscall package has no SYS_SETNS for 386.
const sysSetns = 346
