"""Company portal pages."""
