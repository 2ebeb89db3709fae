"""Scheduled work: what is due at an instant, and the scheduler that asks."""
