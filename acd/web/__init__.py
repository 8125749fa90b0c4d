"""HTTP: the REST API, the supervisors' pages and live server-sent events."""
