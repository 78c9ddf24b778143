"""Phone calls: the call service, the pieces a screen is spoken as, and the
TwiML / Africa's Talking XML they become."""
