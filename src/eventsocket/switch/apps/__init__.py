"""Dialplan applications, by family; each module has a ``register(manager)``."""
