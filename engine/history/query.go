package history

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// RunQuery runs the named analyst query of schemas/clickhouse/queries
// against the DSN's database, with params as text (missing ones take their
// defaults; relative times count from now). It returns the column names
// and the rows, each value of the Go type clickhouse-go scans the column
// into (string, uint64, float64, time.Time, []string, ...).
func RunQuery(ctx context.Context, dsn, name string, params map[string]string) (columns []string, rows [][]any, err error) {
	q, err := chschema.LookupQuery(name)
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	sql, err := q.Render(params, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	opts, err := parseDSN(dsn)
	if err != nil {
		return nil, nil, err
	}
	conn, err := open(opts)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	columns, rows, err = queryAll(ctx, conn, sql)
	if err != nil {
		return nil, nil, fmt.Errorf("history: query %s: %w", name, err)
	}
	return columns, rows, nil
}

// queryAll runs sql and reads every row into values of the columns' scan
// types.
func queryAll(ctx context.Context, conn driver.Conn, sql string) ([]string, [][]any, error) {
	rs, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	types := rs.ColumnTypes()
	columns := rs.Columns()
	var out [][]any
	for rs.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, nil, err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, err
	}
	return columns, out, nil
}

// FormatTable writes query results as "table" (aligned columns), "csv"
// (with a header line) or "json" (an array of objects, keys in column
// order). Times are written in RFC 3339, UTC; in table and csv, arrays are
// joined with commas.
func FormatTable(w io.Writer, columns []string, rows [][]any, format string) error {
	switch format {
	case "", "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(columns, "\t"))
		for _, row := range rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(FormatValue(v))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(columns); err != nil {
			return err
		}
		for _, row := range rows {
			cells := make([]string, len(row))
			for i, v := range row {
				cells[i] = FormatValue(v)
			}
			if err := cw.Write(cells); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		var b strings.Builder
		b.WriteString("[")
		for r, row := range rows {
			if r > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  {")
			for i, v := range row {
				if i > 0 {
					b.WriteString(", ")
				}
				key, _ := json.Marshal(columns[i])
				val, err := json.Marshal(jsonValue(v))
				if err != nil {
					return fmt.Errorf("column %s: %w", columns[i], err)
				}
				b.Write(key)
				b.WriteString(": ")
				b.Write(val)
			}
			b.WriteString("}")
		}
		if len(rows) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("]\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	return fmt.Errorf("history: unknown format %q (want table, csv or json)", format)
}

// FormatValue renders one result value as text: times in RFC 3339 (UTC),
// floats in their shortest form, arrays joined with commas, NULL (a nil
// pointer) as nothing.
func FormatValue(v any) string {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		return FormatValue(rv.Elem().Interface())
	}
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case fmt.Stringer:
		return v.String()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = FormatValue(rv.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// jsonValue makes a value JSON-friendly: pointers dereferenced (nil as
// null), times as RFC 3339 strings, non-finite floats as null.
func jsonValue(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return jsonValue(rv.Elem().Interface())
	}
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
	}
	return v
}
