"""Channel renderers: turn an engine ``Screen`` into what a channel carries.

They render; they do not decide. The same screen becomes USSD pages here, and
one SMS or a voice response in the SMS and voice renderers.
"""
