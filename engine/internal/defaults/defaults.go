// Package defaults applies a configuration's defaults: each adapter writes
// its defaults once, in its DefaultConfig, and its New fills the zero
// fields of the Config it is given from it with Fill.
package defaults

import "reflect"

// Fill sets every zero field of *cfg to the field of def. Booleans are
// left alone (false cannot be told from unset, so a boolean's default is
// the caller's, given by starting from DefaultConfig), and so are the
// fields def leaves zero. T must be a struct type.
func Fill[T any](cfg *T, def T) {
	v, d := reflect.ValueOf(cfg).Elem(), reflect.ValueOf(def)
	for i := range v.NumField() {
		f := v.Field(i)
		if f.CanSet() && f.Kind() != reflect.Bool && f.IsZero() {
			f.Set(d.Field(i))
		}
	}
}

// Unset names the exported fields of the struct def that are zero, booleans
// aside: the settings a DefaultConfig gives no default, for the adapters'
// tests to compare with the list of those that need none.
func Unset(def any) []string {
	v := reflect.ValueOf(def)
	var names []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.IsExported() && f.Type.Kind() != reflect.Bool && v.Field(i).IsZero() {
			names = append(names, f.Name)
		}
	}
	return names
}
