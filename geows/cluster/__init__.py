"""Broadcasts across hosts through Redis (WebSocketBroadcast): the URL's parsing
(url.py, which the config layer uses: it imports neither redis nor socket), the
sans-I/O ordering of a location's messages (order.py), the I/O driver each serving
process runs (link.py), and the figures the status page shows of it (figures.py).

Importing this package loads nothing: each module is imported where it is needed.
"""
