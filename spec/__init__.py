"""The specification of batch normalization: clauses, properties, runner."""
