"""geows: mod_websocket's job, served by gevent from the httpd.conf you already run."""

__version__ = "0.1.0"
