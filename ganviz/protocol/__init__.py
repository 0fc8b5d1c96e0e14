"""The door between the window and the training service: typed messages (messages.py) and the transports that carry them (transports.py). No Qt, no torch."""
