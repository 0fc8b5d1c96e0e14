"""The client's view of a run, without Qt: what the window shows, fed by the door's events."""
