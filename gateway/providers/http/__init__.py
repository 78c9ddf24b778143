"""A local aggregator's HTTP API (SMS and USSD), described by a YAML file."""
