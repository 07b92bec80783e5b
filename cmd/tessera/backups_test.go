package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

func TestProgressLine(t *testing.T) {
	base := recovery.Job{ID: "j-1", Kind: recovery.KindRestore, State: recovery.StateRunning, Phase: recovery.PhaseApply}
	with := func(f func(*recovery.Job)) recovery.Job { j := base; f(&j); return j }
	tests := []struct {
		name string
		job  recovery.Job
		rate float64
		want string
	}{
		{"rate not known yet", with(func(j *recovery.Job) { j.ItemsDone, j.Items = 0, 10000 }), -1,
			"restore j-1 RUNNING phase=apply items=0/10000"},
		{"items of items and rate", with(func(j *recovery.Job) { j.ItemsDone, j.Items = 2500, 10000 }), 1249.6,
			"restore j-1 RUNNING phase=apply items=2500/10000 rate=1250 items/s"},
		{"total unknown", with(func(j *recovery.Job) { j.Kind, j.Phase, j.ItemsDone = recovery.KindBackup, recovery.PhaseSnapshot, 42 }), 0,
			"backup j-1 RUNNING phase=snapshot items=42 rate=0 items/s"},
		{"ended with a reason", with(func(j *recovery.Job) {
			j.State, j.Phase, j.Reason, j.ItemsDone, j.Items = recovery.StateRolledBack, recovery.PhaseDone, "verify: checksum mismatch", 10, 10
		}), 5, `restore j-1 ROLLED_BACK phase=done items=10/10 rate=5 items/s reason="verify: checksum mismatch"`},
		{"a running job's reason is not shown", with(func(j *recovery.Job) { j.Reason = "waiting for the feed" }), -1,
			"restore j-1 RUNNING phase=apply items=0"},
	}
	for _, tc := range tests {
		if got := progressLine(tc.job, tc.rate); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestProgressRateIsThePhases: the rate counts the items done since the
// phase was first seen, over the time since then; a new phase starts
// again, and only a new phase or state is a change.
func TestProgressRateIsThePhases(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	job := func(phase recovery.Phase, state recovery.State, done int64) recovery.Job {
		return recovery.Job{ID: "j-1", Kind: recovery.KindRestore, State: state, Phase: phase, ItemsDone: done, Items: 1000}
	}
	steps := []struct {
		job     recovery.Job
		at      time.Duration
		want    string
		changed bool
	}{
		{job(recovery.PhaseQueued, recovery.StateQueued, 0), 0, "restore j-1 QUEUED phase=queued items=0/1000", true},
		{job(recovery.PhaseQueued, recovery.StateQueued, 0), 500 * time.Millisecond, "restore j-1 QUEUED phase=queued items=0/1000 rate=0 items/s", false},
		{job(recovery.PhaseApply, recovery.StateRunning, 100), time.Second, "restore j-1 RUNNING phase=apply items=100/1000", true},
		{job(recovery.PhaseApply, recovery.StateRunning, 600), 2 * time.Second, "restore j-1 RUNNING phase=apply items=600/1000 rate=500 items/s", false},
		{job(recovery.PhaseApply, recovery.StateRunning, 1000), 3 * time.Second, "restore j-1 RUNNING phase=apply items=1000/1000 rate=450 items/s", false},
		{job(recovery.PhaseVerify, recovery.StateRunning, 0), 4 * time.Second, "restore j-1 RUNNING phase=verify items=0/1000", true},
		{job(recovery.PhaseVerify, recovery.StateRunning, 0), 5 * time.Second, "restore j-1 RUNNING phase=verify items=0/1000 rate=0 items/s", false},
		{job(recovery.PhaseDone, recovery.StateSucceeded, 1000), 6 * time.Second, "restore j-1 SUCCEEDED phase=done items=1000/1000", true},
	}
	var p progress
	for i, s := range steps {
		got, changed := p.observe(s.job, t0.Add(s.at))
		if got != s.want || changed != s.changed {
			t.Errorf("step %d: %q changed=%v, want %q changed=%v", i, got, changed, s.want, s.changed)
		}
	}
}

func TestJobOutcome(t *testing.T) {
	for _, tc := range []struct {
		state  recovery.State
		reason string
		want   string // "" : no error
	}{
		{recovery.StateSucceeded, "", ""},
		{recovery.StateFailed, "no snapshot before the time", "restore job j-1 ended FAILED: no snapshot before the time"},
		{recovery.StateRolledBack, "", "restore job j-1 ended ROLLED_BACK: no reason given"},
	} {
		err := jobOutcome(recovery.Job{ID: "j-1", Kind: recovery.KindRestore, State: tc.state, Reason: tc.reason})
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%s: %v, want %q", tc.state, err, tc.want)
		}
	}
}

func TestSnapshotTable(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	var b bytes.Buffer
	err := snapshotTable(&b, []recovery.Snapshot{
		{ID: "s-01", Trigger: recovery.TriggerSchedule, CompletedAt: at, Items: 10000, Bytes: 2048000, Checksum: "0123456789abcdef0123"},
		{ID: "s-02", Trigger: recovery.TriggerOperator, CompletedAt: at.Add(time.Hour), Items: 0, Bytes: 0, Checksum: "abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SNAPSHOT  TRIGGER   COMPLETED             ITEMS  BYTES    CHECKSUM\n" +
		"s-01      schedule  2024-05-01T10:00:00Z  10000  2048000  0123456789ab\n" +
		"s-02      operator  2024-05-01T11:00:00Z  0      0        abc\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// jobServer answers GET of job j-1 of tenant t-acme with answers in turn
// (the last one again once they run out) and counts the polls.
type jobServer struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	polls   int
	paths   []string
	bodies  []string
}

func (s *jobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	b, _ := io.ReadAll(r.Body)
	s.bodies = append(s.bodies, string(b))
	a := s.answers[min(s.polls, len(s.answers)-1)]
	s.polls++
	a(w)
}

func jobAnswer(phase recovery.Phase, state recovery.State, done int64, reason string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(recovery.Job{ID: "j-1", TenantID: "t-acme", Kind: recovery.KindRestore, State: state, Phase: phase,
			Items: 4, ItemsDone: done, Reason: reason})
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error":{"code":"x","message":"y"}}`))
	}
}

// TestWaitJob polls the job until it ends: off a terminal one line per
// phase or state change; on a terminal one line rewritten with \r; a 5xx
// is retried, a 4xx is not, and too many failures in a row give up.
func TestWaitJob(t *testing.T) {
	running := []func(http.ResponseWriter){
		jobAnswer(recovery.PhaseQueued, recovery.StateQueued, 0, ""),
		status(http.StatusBadGateway), // retried
		jobAnswer(recovery.PhaseApply, recovery.StateRunning, 1, ""),
		jobAnswer(recovery.PhaseApply, recovery.StateRunning, 3, ""),
	}
	tests := []struct {
		name      string
		answers   []func(http.ResponseWriter)
		tty       bool
		wantState recovery.State
		wantErr   string
		wantPolls int
		check     func(t *testing.T, out string)
	}{
		{name: "succeeds, lines per change", answers: append(running, jobAnswer(recovery.PhaseDone, recovery.StateSucceeded, 4, "")),
			wantState: recovery.StateSucceeded, wantPolls: 5, check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != 3 || !strings.Contains(lines[0], "phase=queued") || !strings.Contains(lines[1], "RUNNING phase=apply items=1/4") ||
					!strings.Contains(lines[2], "SUCCEEDED phase=done items=4/4") || strings.Contains(out, "\r") {
					t.Errorf("progress:\n%s", out)
				}
			}},
		{name: "rolls back, on a terminal", answers: append(running, jobAnswer(recovery.PhaseDone, recovery.StateRolledBack, 4, "verify failed")),
			tty: true, wantState: recovery.StateRolledBack, wantPolls: 5, check: func(t *testing.T, out string) {
				if strings.Count(out, "\r\x1b[K") != 4 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, `reason="verify failed"`+"\n") {
					t.Errorf("progress: %q", out)
				}
			}},
		{name: "job not found", answers: []func(http.ResponseWriter){status(http.StatusNotFound)}, wantErr: "404", wantPolls: 1},
		{name: "the API keeps failing", answers: []func(http.ResponseWriter){status(http.StatusInternalServerError)}, wantErr: "500", wantPolls: maxPollFailures},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &jobServer{answers: tc.answers}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			var w bytes.Buffer
			c := client{base: hs.URL, token: "Bearer x"}
			_, j, err := c.waitJob(context.Background(), "t-acme", "j-1", time.Millisecond, &w, tc.tty)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
			} else if err != nil || j.State != tc.wantState {
				t.Fatalf("job %+v, err %v; want %s", j, err, tc.wantState)
			}
			if srv.polls != tc.wantPolls {
				t.Errorf("%d polls, want %d", srv.polls, tc.wantPolls)
			}
			for _, p := range srv.paths {
				if p != "GET /v1/tenants/t-acme/jobs/j-1" {
					t.Errorf("request %s", p)
				}
			}
			if tc.check != nil {
				tc.check(t, w.String())
			}
		})
	}
}

// TestRestoreChecksToBeforeAsking: restore needs --to, in RFC 3339; a bad
// one sends nothing.
func TestRestoreChecksToBeforeAsking(t *testing.T) {
	srv := &jobServer{answers: []func(http.ResponseWriter){status(http.StatusTeapot)}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := client{base: hs.URL, token: "Bearer x"}
	for _, to := range []string{"", "yesterday", "2024-05-01", "2024-05-01 12:00:00Z"} {
		err := runRecovery(context.Background(), c, "restore", []string{"t-acme"}, recoveryFlags{to: to})
		if err == nil || !strings.Contains(err.Error(), "--to") {
			t.Errorf("--to %q: %v, want an error about --to", to, err)
		}
	}
	if err := runRecovery(context.Background(), c, "job", []string{"t-acme"}, recoveryFlags{}); err == nil {
		t.Error("job without a job id: no error")
	}
	if srv.polls != 0 {
		t.Errorf("%d requests sent: %v", srv.polls, srv.paths)
	}
	// A good one is sent, as the API's body; the API's refusal is the
	// command's error.
	var he *httpError
	err := runRecovery(context.Background(), c, "restore", []string{"t-acme"}, recoveryFlags{to: "2024-05-01T12:00:00Z", into: "Acme copy"})
	if !errors.As(err, &he) || he.Status != http.StatusTeapot || len(srv.paths) != 1 || srv.paths[0] != "POST /v1/tenants/t-acme/restores" ||
		srv.bodies[0] != `{"intoNewTenant":"Acme copy","to":"2024-05-01T12:00:00Z"}` {
		t.Errorf("restore = %v, requests %v %v", err, srv.paths, srv.bodies)
	}
}

// TestWaitTier follows a tier change: one that crosses the
// pooled/dedicated line waits for its migration, follows the migration's
// job and prints the tenant as it ended; one that does not returns at once;
// a migration that rolled back fails the command with its reason.
func TestWaitTier(t *testing.T) {
	began := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	tenantJSON := func(tier string, dedicated bool, jobID string, started time.Time) string {
		m := "null"
		if jobID != "" {
			m = fmt.Sprintf(`{"jobId":%q,"startedAt":%q}`, jobID, started.Format(time.RFC3339Nano))
		}
		return fmt.Sprintf(`{"tenantId":"t-acme","tier":%q,"placement":{"dedicated":%v},"migration":%s}`, tier, dedicated, m)
	}
	migrationJob := func(phase recovery.Phase, state recovery.State, reason string) string {
		b, _ := json.Marshal(recovery.Job{ID: "j-9", TenantID: "t-acme", Kind: recovery.KindMigration, State: state, Phase: phase, Items: 10, ItemsDone: 10, Reason: reason})
		return string(b)
	}
	tests := []struct {
		name      string
		answer    string   // the PUT's answer
		tenants   []string // GET /v1/tenants/t-acme in turn
		jobs      []string // GET .../jobs/j-9 in turn
		wantErr   string
		wantOut   string // in what is printed
		wantLines int    // progress lines
	}{
		{name: "no move", answer: tenantJSON("standard", false, "", time.Time{}), wantOut: `"tier": "standard"`},
		{name: "to premium", answer: tenantJSON("premium", false, "", time.Time{}),
			tenants: []string{tenantJSON("premium", false, "", time.Time{}), tenantJSON("premium", false, "j-9", began.Add(time.Second)), tenantJSON("premium", true, "j-9", began.Add(time.Second))},
			jobs:    []string{migrationJob(recovery.PhaseCopy, recovery.StateRunning, ""), migrationJob(recovery.PhaseDone, recovery.StateSucceeded, "")},
			wantOut: `"dedicated": true`, wantLines: 2},
		{name: "an older migration is not this one", answer: tenantJSON("premium", false, "j-1", began.Add(-time.Hour)),
			tenants: []string{tenantJSON("premium", false, "j-9", began)},
			jobs:    []string{migrationJob(recovery.PhaseDone, recovery.StateSucceeded, "")},
			wantOut: `"jobId": "j-9"`, wantLines: 1},
		{name: "rolled back", answer: tenantJSON("premium", false, "j-9", began),
			tenants: []string{tenantJSON("premium", false, "j-9", began)},
			jobs:    []string{migrationJob(recovery.PhaseRollback, recovery.StateRolledBack, "verification failed")},
			wantErr: "migration job j-9 ended ROLLED_BACK: verification failed", wantLines: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			polls := map[string]int{}
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				var list []string
				switch r.URL.Path {
				case "/v1/tenants/t-acme":
					list = tc.tenants
				case "/v1/tenants/t-acme/jobs/j-9":
					list = tc.jobs
				}
				if len(list) == 0 {
					w.WriteHeader(http.StatusNotFound)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, list[min(polls[r.URL.Path], len(list)-1)])
				polls[r.URL.Path]++
			}))
			defer hs.Close()
			var answer any
			if err := json.Unmarshal([]byte(tc.answer), &answer); err != nil {
				t.Fatal(err)
			}
			var out, progress bytes.Buffer
			err := client{base: hs.URL, token: "Bearer x"}.waitTier(context.Background(), "t-acme", answer, began, &out, &progress, false)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("err %v, printed %s; want %q", err, out.String(), tc.wantOut)
			}
			if lines := strings.Count(progress.String(), "\n"); lines != tc.wantLines || (lines > 0 && !strings.Contains(progress.String(), "migration j-9")) {
				t.Fatalf("progress (%d lines, want %d):\n%s", lines, tc.wantLines, progress.String())
			}
		})
	}
}
