"""The processes: the master (listening sockets, workers, reloads, signals), the worker's
life around a runtime server, and the channel between them."""
