package cell

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestIndexIsStableBalancedAndMovesFewOnGrowth(t *testing.T) {
	const n, cells = 100_000, 20
	per := make([]int, cells+1)
	moved := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("t-%06d", i)
		c := Index(id, cells)
		if c < 0 || c >= cells || Index(id, cells) != c {
			t.Fatalf("Index(%s) = %d, not stable in [0, %d)", id, c, cells)
		}
		per[c]++
		if c2 := Index(id, cells+1); c2 != c {
			if c2 != cells {
				t.Fatalf("%s moved from cell %d to %d when cell %d was added", id, c, c2, cells)
			}
			moved++
		}
	}
	for c := 0; c < cells; c++ {
		if d := math.Abs(float64(per[c])-n/cells) / (n / cells); d > 0.05 {
			t.Errorf("cell %d holds %d tenants, %.0f%% off the mean", c, per[c], 100*d)
		}
	}
	if share := float64(moved) / n; math.Abs(share-1.0/(cells+1)) > 0.005 {
		t.Errorf("adding a cell moved %.3f of the tenants, want about %.3f", share, 1.0/(cells+1))
	}
	if Index("anything", 1) != 0 || Index("anything", 0) != 0 {
		t.Error("one cell (or none) is cell 0")
	}
}

func TestCandidatesStartWithTheHashedOpenCellThenTheOthers(t *testing.T) {
	m, err := New(
		Cell{ID: "c1", API: "https://c1.example", Open: false},
		Cell{ID: "c2", API: "https://c2.example", Open: true},
		Cell{ID: "c3", API: "https://c3.example", Open: true},
		Cell{ID: "c4", API: "https://c4.example", Open: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[ID]int{}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("t-%05d", i)
		got := m.Candidates(id)
		if len(got) != 3 {
			t.Fatalf("Candidates(%s) = %v, want the 3 open cells", id, got)
		}
		open := []ID{"c2", "c3", "c4"}
		if got[0] != open[Index(id, 3)] {
			t.Fatalf("Candidates(%s)[0] = %s, want %s", id, got[0], open[Index(id, 3)])
		}
		set := map[ID]bool{}
		for _, c := range got {
			if c == "c1" {
				t.Fatalf("closed cell c1 offered for %s", id)
			}
			set[c] = true
		}
		if len(set) != 3 {
			t.Fatalf("Candidates(%s) = %v repeats a cell", id, got)
		}
		seen[got[0]]++
	}
	for _, c := range []ID{"c2", "c3", "c4"} {
		if seen[c] < 800 {
			t.Errorf("cell %s was the first choice of only %d of 3000 new tenants", c, seen[c])
		}
	}
}

func TestParseRefusesBadMaps(t *testing.T) {
	for _, c := range []struct {
		name, json, want string
	}{
		{"empty", `[]`, "no cells"},
		{"bad id", `[{"id":"cell1","apiUrl":"https://a.example","open":true}]`, "does not match"},
		{"c0", `[{"id":"c0","apiUrl":"https://a.example","open":true}]`, "does not match"},
		{"twice", `[{"id":"c1","apiUrl":"https://a.example","open":true},{"id":"c1","apiUrl":"https://b.example","open":true}]`, "listed twice"},
		{"no url", `[{"id":"c1","open":true}]`, "apiUrl"},
		{"relative url", `[{"id":"c1","apiUrl":"/v1","open":true}]`, "apiUrl"},
		{"capacity", `[{"id":"c1","apiUrl":"https://a.example","open":true,"capacity":2501}]`, "capacity"},
		{"account", `[{"id":"c1","apiUrl":"https://a.example","open":true,"account":"12345"}]`, "12 digits"},
		{"shared account", `[{"id":"c1","apiUrl":"https://a.example","open":true,"account":"111111111111"},{"id":"c2","apiUrl":"https://b.example","open":true,"account":"111111111111"}]`, "share account"},
		{"none open", `[{"id":"c1","apiUrl":"https://a.example"}]`, "no cell is open"},
		{"unknown field", `[{"id":"c1","apiUrl":"https://a.example","open":true,"opne":true}]`, "unknown field"},
		{"not json", `{`, "cell map"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse(%s) = %v, want an error containing %q", c.json, err, c.want)
			}
		})
	}
}

func TestParseKeepsOrderAndLimits(t *testing.T) {
	m, err := Parse([]byte(`[{"id":"c1","apiUrl":"https://a.example","open":false,"account":"111111111111","region":"eu-west-1"},{"id":"c2","apiUrl":"https://b.example","open":true,"capacity":10}]`))
	if err != nil {
		t.Fatal(err)
	}
	cs := m.Cells()
	if len(cs) != 2 || cs[0].ID != "c1" || cs[1].ID != "c2" {
		t.Fatalf("cells = %+v", cs)
	}
	if cs[0].Limit() != MaxTenants || cs[1].Limit() != 10 {
		t.Errorf("limits = %d, %d; want %d, 10", cs[0].Limit(), cs[1].Limit(), MaxTenants)
	}
	if c, ok := m.Get("c1"); !ok || c.Region != "eu-west-1" {
		t.Errorf("Get(c1) = %+v, %v", c, ok)
	}
	if _, ok := m.Get("c9"); ok {
		t.Error("Get(c9) found a cell that is not in the map")
	}
}
