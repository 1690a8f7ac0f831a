package nb

// -extended adds DeepCopy, CloneModel and EqualsModel: libovsdb's cache
// clones a row on every insert, update and lookup, and without them it
// clones through encoding/json.
//go:generate go tool modelgen -extended -p nb -o . nb.ovsschema
