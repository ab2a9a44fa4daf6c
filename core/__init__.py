"""What every layer may use and that knows nothing of them: domain errors, the client's address, the fail-open cache, list queries."""
