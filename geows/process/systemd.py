"""systemd's readiness protocol (sd_notify(3)), for a `Type=notify` unit: the master says
READY=1 once its first generation of workers serves, STATUS= after each reload, and
STOPPING=1 when it stops, each a datagram to the socket $NOTIFY_SOCKET names. Without
$NOTIFY_SOCKET (not under systemd, or another Type), nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger("geows.main")


def notify(*fields: str) -> None:
    """Send systemd these `KEY=value` fields, if it asked for them."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        # systemd then sees no readiness and fails the start after TimeoutStartSec: say why.
        logger.error("could not tell systemd %s at NOTIFY_SOCKET %s: %s", ", ".join(fields),
                     os.environ["NOTIFY_SOCKET"], exc)
