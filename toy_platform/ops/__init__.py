"""The operator side: serve's supervisor and record, status, doctor and the log viewer."""
