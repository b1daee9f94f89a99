"""The Metering Service (smart segment: SMS)."""
