package domain

// ErrDatabaseUnavailable is what every caller sees while the database cannot
// be reached (stopped, restarting, out of connections): a 503 with
// Retry-After, never a 500. The connection pool reconnects by itself once the
// server is back.
var ErrDatabaseUnavailable = E(KindUnavailable, "database_unavailable",
	"The database is briefly unavailable; try again in a few seconds.")
