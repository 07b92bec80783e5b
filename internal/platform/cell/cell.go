package cell

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"regexp"
	"strings"
)

// ID names a cell within a stage: "c1" to "c999".
type ID string

// Default is the cell of a deployment that has only one.
const Default ID = "c1"

var idPattern = regexp.MustCompile(`^c[1-9][0-9]{0,2}$`)

// Valid reports whether id is a well-formed cell id.
func (id ID) Valid() bool { return idPattern.MatchString(string(id)) }

// The sizing rule of the scale model (bench/scale.txt): at 0.1 requests/s
// per tenant in the peak hour, a cell of at most MaxTenants tenants and
// MaxRequestRate requests/s keeps its account under the STS AssumeRole quota
// (600/s) even in the minutes after a deployment, when every Lambda
// environment starts cold; 2,500 tenants also keeps the per-tenant API keys
// well under API Gateway's 10,000 per account and Region.
const (
	MaxTenants     = 2500
	MaxRequestRate = 400
)

// Cell is one cell of a stage.
type Cell struct {
	ID ID `json:"id"`
	// Account and Region are where the cell's stacks are deployed. Every
	// cell of a multi-cell stage has an account of its own.
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// API is the base URL of the cell's API (tenant and operator routes).
	API string `json:"apiUrl"`
	// Open cells take new tenants; a closed cell keeps serving the tenants
	// it has.
	Open bool `json:"open"`
	// Capacity is the most tenants the cell takes (0: MaxTenants).
	Capacity int `json:"capacity,omitempty"`
}

// Limit is the most tenants c takes.
func (c Cell) Limit() int {
	if c.Capacity > 0 {
		return c.Capacity
	}
	return MaxTenants
}

// Map is the cells of one stage, in the order they were opened.
type Map struct {
	cells []Cell
}

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// Parse reads a map from its JSON form: an array of cells. It refuses an
// empty map, a malformed or repeated id, a cell without an absolute http(s)
// API URL, a capacity outside 0..MaxTenants, an account that is not 12
// digits or is shared by two cells, and a map with no open cell.
func Parse(b []byte) (Map, error) {
	var cells []Cell
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cells); err != nil {
		return Map{}, fmt.Errorf("cell map: %w", err)
	}
	return New(cells...)
}

// New returns the map of cells, checked as Parse checks it.
func New(cells ...Cell) (Map, error) {
	if len(cells) == 0 {
		return Map{}, errors.New("cell map: no cells")
	}
	ids := map[ID]bool{}
	accounts := map[string]ID{}
	open := false
	for _, c := range cells {
		if !c.ID.Valid() {
			return Map{}, fmt.Errorf("cell map: cell id %q does not match %s", c.ID, idPattern)
		}
		if ids[c.ID] {
			return Map{}, fmt.Errorf("cell map: cell %s is listed twice", c.ID)
		}
		ids[c.ID] = true
		u, err := url.Parse(c.API)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Map{}, fmt.Errorf("cell map: cell %s: apiUrl %q is not an absolute http(s) URL", c.ID, c.API)
		}
		if c.Capacity < 0 || c.Capacity > MaxTenants {
			return Map{}, fmt.Errorf("cell map: cell %s: capacity %d is outside 0..%d", c.ID, c.Capacity, MaxTenants)
		}
		if c.Account != "" {
			if !accountPattern.MatchString(c.Account) {
				return Map{}, fmt.Errorf("cell map: cell %s: account %q is not 12 digits", c.ID, c.Account)
			}
			if other, ok := accounts[c.Account]; ok {
				return Map{}, fmt.Errorf("cell map: cells %s and %s share account %s: a cell's quotas are its account's", other, c.ID, c.Account)
			}
			accounts[c.Account] = c.ID
		}
		open = open || c.Open
	}
	if !open {
		return Map{}, errors.New("cell map: no cell is open for new tenants")
	}
	return Map{cells: append([]Cell(nil), cells...)}, nil
}

// Cells returns the cells in map order.
func (m Map) Cells() []Cell { return append([]Cell(nil), m.cells...) }

// Get returns the cell with id.
func (m Map) Get(id ID) (Cell, bool) {
	for _, c := range m.cells {
		if c.ID == id {
			return c, true
		}
	}
	return Cell{}, false
}

// Candidates returns the open cells in the order a new tenant tries them:
// first the cell that Index picks among the open cells, then the other open
// cells in map order (for when the first is full).
func (m Map) Candidates(tenantID string) []ID {
	var open []ID
	for _, c := range m.cells {
		if c.Open {
			open = append(open, c.ID)
		}
	}
	if len(open) == 0 {
		return nil
	}
	first := Index(tenantID, len(open))
	out := []ID{open[first]}
	for i, id := range open {
		if i != first {
			out = append(out, id)
		}
	}
	return out
}

// Index maps a tenant id to one of n buckets: FNV-1a of the id, then a jump
// consistent hash (Lamping and Veach), so that going from n to n+1 buckets
// moves about 1/(n+1) of the ids, and only into the new bucket. The placement
// of a tenant is recorded, so Index only decides where a new tenant goes; it
// spreads new tenants evenly over the open cells without any shared counter
// on the request path.
func Index(tenantID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenantID))
	key := h.Sum64()
	b, j := int64(-1), int64(0)
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}
