"""HTTP: the DIP hub, participants' webhook services, and the query API."""
