"""The processes: the master (listening sockets, workers, reloads, signals), the worker's
life around a runtime server, the channel between them, and the startup sequence every
process shares (startup.py)."""
