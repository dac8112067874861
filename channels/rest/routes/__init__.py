"""REST routes by topic; each route parses, calls the service, returns its plain data."""
