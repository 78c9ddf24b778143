"""Android phones with local SIMs as the SMS route (SMS Gateway for Android)."""
