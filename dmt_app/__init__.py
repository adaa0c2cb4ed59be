"""Company portal (Reflex app `dmt_app`): pages in dmt_app/pages, states in dmt_app/state."""
