"""Africa's Talking: SMS, USSD and calls, posted to its HTTP API directly."""
