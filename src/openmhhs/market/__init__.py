"""Composing the roles: the in-process market bus, implementation models and scenarios."""
