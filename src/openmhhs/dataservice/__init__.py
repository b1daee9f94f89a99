"""The Smart Data Service: Supplier contracts and appointment and MDR decisions."""
