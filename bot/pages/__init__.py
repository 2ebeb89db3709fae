"""Web pages rendered on the server: pure functions of what services return."""
