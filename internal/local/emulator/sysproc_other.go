//go:build !linux

package emulator

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
