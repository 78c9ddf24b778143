"""USSD: the session service (retransmits, lock, rate limit, resume), its Redis
state, and the pages a screen is split into."""
