"""Use cases shared by both portals, the REST API and the workers. No Reflex here."""
