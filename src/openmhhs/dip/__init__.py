"""The DIP: message models generated from the official YAML, parsing with official codes,
building messages as a participant would, and request signing."""
