"""The outbound seam: Web API clients, people lookups and the outbox sender."""
