"""Writes of the notifications app; import from the submodules (planning, dispatch, inapp, ledger)."""
