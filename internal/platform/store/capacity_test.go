package store

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestCapacityArithmetic checks the read/write split on recorded response
// shapes (moto reports constants, so the arithmetic is tested here).
func TestCapacityArithmetic(t *testing.T) {
	raw, err := os.ReadFile("testdata/consumed-capacity.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Name      string          `json:"name"`
			Kind      string          `json:"kind"`
			Response  json.RawMessage `json:"response"`
			WantRead  float64         `json:"wantRead"`
			WantWrite float64         `json:"wantWrite"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	type cc struct {
		CapacityUnits, ReadCapacityUnits, WriteCapacityUnits *float64
		TableName                                            *string
	}
	conv := func(x cc) types.ConsumedCapacity {
		return types.ConsumedCapacity{CapacityUnits: x.CapacityUnits, ReadCapacityUnits: x.ReadCapacityUnits, WriteCapacityUnits: x.WriteCapacityUnits, TableName: x.TableName}
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var single struct{ ConsumedCapacity cc }
			var many struct{ ConsumedCapacity []cc }
			var got []types.ConsumedCapacity
			if err := json.Unmarshal(c.Response, &single); err == nil {
				got = append(got, conv(single.ConsumedCapacity))
			} else if err := json.Unmarshal(c.Response, &many); err == nil {
				for _, x := range many.ConsumedCapacity {
					got = append(got, conv(x))
				}
			} else {
				t.Fatal(err)
			}
			kind := readCapacity
			if c.Kind == "write" {
				kind = writeCapacity
			}
			r, w := sumCapacity(kind, got...)
			if math.Abs(r-c.WantRead) > 1e-9 || math.Abs(w-c.WantWrite) > 1e-9 {
				t.Fatalf("read %v write %v, want %v %v", r, w, c.WantRead, c.WantWrite)
			}
		})
	}
}
