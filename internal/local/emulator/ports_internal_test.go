package emulator

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestListensTellsWhoseSocketAPortIs: the readiness check accepts a port
// only from the process that listens on it, so a stack never adopts another
// stack's server that took its port.
func TestListensTellsWhoseSocketAPortIs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the check reads /proc")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if !listens(os.Getpid(), port) {
		t.Fatalf("this process listens on %d, listens says no", port)
	}
	other := exec.Command("sleep", "5")
	if err := other.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if listens(other.Process.Pid, port) {
		t.Fatalf("process %d does not listen on %d, listens says it does", other.Process.Pid, port)
	}
	if exited(other) {
		t.Fatal("a running process reads as exited")
	}
	_ = other.Process.Kill()
	_ = other.Wait()
	if !exited(other) {
		t.Fatal("a reaped process reads as running")
	}
}
