"""The `dmt` command."""
