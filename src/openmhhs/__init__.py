"""openmhhs: a runnable reference implementation of the smart segment of GB electricity
Market-wide Half-Hourly Settlement (MHHS): who the Supplier, Smart Data Service and Meter
Data Retriever of each MPAN are, how they are appointed over the DIP, and what follows."""

__version__ = "0.1.0"
