package emulator

import "syscall"

// sysProcAttr makes the emulators die with the process that started them, so
// an interrupted test run leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
