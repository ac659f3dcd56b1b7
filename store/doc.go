// Package store is the only package that touches the database. It opens any of
// the supported engines through GORM (embedded SQLite, PostgreSQL,
// MySQL/MariaDB, SQL Server), runs the versioned migrations, and offers the
// queries the rest of the product needs as methods on *DB.
//
// Transactions travel in the context: DB.Tx stores the transaction in the
// context it hands to its callback, and every method called with that context
// joins the transaction. Nested Tx calls join the outer one.
//
// Dialect differences live in dialect.go, each with the reason it exists.
package store
