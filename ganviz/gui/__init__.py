"""Qt window, worker thread and plots."""
