"""What runs inside a worker: the server and one connection per client (handshake, session,
access record), ProxyPass forwarding, the status page, TLS and the logs. Everything that
does I/O on a client's behalf lives here; the layers below it (config, access rules,
protocols, plugin API) hand it decisions and bytes."""
