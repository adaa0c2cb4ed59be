"""Company portal components."""
