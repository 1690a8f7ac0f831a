package nb

//go:generate go tool modelgen -p nb -o . nb.ovsschema
