"""Cross-cutting foundations: settings, encryption, embedded services."""
