package nb

import _ "embed"

// SchemaJSON is nb.ovsschema exactly as committed, for creating and
// converting the database file (ovsdb.RunServer). The generated Schema()
// is the same schema parsed, for libovsdb.
//
//go:embed nb.ovsschema
var SchemaJSON []byte
