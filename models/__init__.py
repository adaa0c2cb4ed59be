"""SQLModel tables: control plane (`public`) and per-tenant data plane (`tenant_<slug>`)."""

from models import public, tenant  # noqa: F401  (register every table on the metadata)
