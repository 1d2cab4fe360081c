package history

import "context"

// RunQueryText is RunQuery with every value rendered as text by
// FormatValue (times in RFC 3339, UTC): the shape the console's timelines
// show (httpapi.HistoryQuery).
func RunQueryText(ctx context.Context, dsn, name string, params map[string]string) (columns []string, rows [][]string, err error) {
	columns, values, err := RunQuery(ctx, dsn, name, params)
	if err != nil {
		return nil, nil, err
	}
	rows = make([][]string, len(values))
	for i, row := range values {
		rows[i] = make([]string, len(row))
		for j, v := range row {
			rows[i][j] = FormatValue(v)
		}
	}
	return columns, rows, nil
}
