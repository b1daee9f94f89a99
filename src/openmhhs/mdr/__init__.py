"""The Meter Data Retriever."""
