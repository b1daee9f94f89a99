"""The DCC: controls which MDR (by its 4-character id) may read which smart meter."""
