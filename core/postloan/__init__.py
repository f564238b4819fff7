"""Post-loan management (贷后管理): calendars, due work, records, ratings, import."""
