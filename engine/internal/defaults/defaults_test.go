package defaults

import (
	"slices"
	"testing"
	"time"
)

type config struct {
	Name     string
	Size     int
	Timeout  time.Duration
	Create   bool
	Peers    []string
	Optional string
	hidden   int
}

func TestFill(t *testing.T) {
	def := config{Name: "d", Size: 5, Timeout: time.Second, Create: true, Peers: []string{"p"}, hidden: 9}
	tests := []struct {
		name string
		in   config
		want config
	}{
		{"zero takes every default but the boolean", config{}, config{Name: "d", Size: 5, Timeout: time.Second, Peers: []string{"p"}}},
		{"set fields are kept", config{Name: "mine", Size: -1, Create: false, Peers: []string{"a", "b"}, Optional: "o"},
			config{Name: "mine", Size: -1, Timeout: time.Second, Peers: []string{"a", "b"}, Optional: "o"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			Fill(&got, def)
			if got.Name != tc.want.Name || got.Size != tc.want.Size || got.Timeout != tc.want.Timeout || got.Create != tc.want.Create ||
				!slices.Equal(got.Peers, tc.want.Peers) || got.Optional != tc.want.Optional || got.hidden != 0 {
				t.Errorf("Fill = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUnset(t *testing.T) {
	got := Unset(config{Name: "d", Size: 5})
	if want := []string{"Timeout", "Peers", "Optional"}; !slices.Equal(got, want) {
		t.Errorf("Unset = %v, want %v", got, want)
	}
}
