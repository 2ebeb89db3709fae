"""Persistence: SQLAlchemy models and the queries the services need."""
