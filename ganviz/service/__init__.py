"""The training service: the only side that runs the trainer (training.py); the window reaches it through ganviz.protocol."""
