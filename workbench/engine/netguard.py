"""A guard that makes any outgoing network connection fail loudly (used by the tests).

Set ``WORKBENCH_FORBID_NETWORK=1`` and every Python process that imports workbench (notebook
kernels included) refuses connections to anything but loopback and local sockets, so a library
that tries to download or phone home makes the run fail instead of silently leaking.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex


class NetworkForbiddenError(OSError):
    """A connection to a non-local address was attempted while the guard is on."""


def _is_local(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and similar
        return True
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it is network traffic already


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise NetworkForbiddenError(f"network access to {address!r} attempted while forbidden")
    return _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise NetworkForbiddenError(f"network access to {address!r} attempted while forbidden")
    return _original_connect_ex(self, address)


def forbid_network() -> None:
    """Refuse every socket connection to a non-loopback address in this process."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
