"""Admin portal (Reflex app `admin_app`): tenants, projects, users, sources, health, audit."""
