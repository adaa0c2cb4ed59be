"""Alembic env for the public (control-plane) stream; see models/migrate.py."""

from models.migrate import run_env_for_cli

run_env_for_cli("public")
