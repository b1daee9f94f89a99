"""The Supplier: asks for appointments; receives their outcomes."""
