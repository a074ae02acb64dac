"""What trained policies share at run time and for training: the chunk-policy runtime, config and data glue."""
