"""SMPP to a local aggregator's or operator's SMSC, held by one long-lived link."""
