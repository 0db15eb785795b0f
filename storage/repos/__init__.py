"""Repositories: one mixin per group of tables, combined into :class:`storage.Store`."""
