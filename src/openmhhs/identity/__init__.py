"""Participants, registrations, the ISD M16 table and translation through it."""
