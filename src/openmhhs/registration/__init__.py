"""The Registration Service: MPAN registration data, appointment timelines, REG rules."""
