"""The command line: with the HTTP API, the only place that reads the clock, the environment
or files."""
