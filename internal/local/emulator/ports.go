package emulator

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// A port picked by freePort is free when it is picked, not when the server
// binds it: another test package's emulator, started at the same moment,
// may bind it first. The readiness probe would then be answered by that
// other server, and the tests would talk to it until its package stopped it
// (connections closed mid-response). So a stack is ready only when the
// process it started (or one of its descendants) listens on the port
// itself.

// listens reports whether the process pid, or a descendant, has a TCP socket
// listening on port. Where /proc is not there (not Linux), it reports true:
// the check is an extra guard, not a requirement.
func listens(pid, port int) bool {
	if runtime.GOOS != "linux" {
		return true
	}
	inodes := map[string]bool{}
	for _, p := range withDescendants(pid) {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", p), fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
			}
		}
	}
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ... inode (field 9)
			if len(fields) > 9 && strings.HasSuffix(fields[1], want) && fields[3] == "0A" && inodes[fields[9]] {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// withDescendants is pid and every process below it.
func withDescendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, c := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(c); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}
