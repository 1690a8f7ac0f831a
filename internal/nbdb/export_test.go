package nbdb

import "github.com/ferry-sdn/ferry/internal/model"

// SnapshotFromScratch builds a snapshot of db's cache without the previous
// one, leaving db's own state alone: what every incremental build must
// equal.
func (db *DB) SnapshotFromScratch() *model.Snapshot {
	tc, _ := db.cache()
	st, err := db.build(tc, nil, nil)
	if err != nil {
		panic(err)
	}
	return st.snap
}
