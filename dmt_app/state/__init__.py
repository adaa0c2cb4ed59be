"""Company portal state."""
