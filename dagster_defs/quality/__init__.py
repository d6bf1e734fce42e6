"""pandera schemas, reconciliation by id and the asset checks."""
