"""mod_log_config's format language, for one access log line per connection.

`LogFormat.parse` reads a format string as httpd does (literal text with \\n \\t \\r \\\\,
and %-items with optional status conditions, < > modifiers and a {argument}); a letter
httpd does not know is a ConfigError. `LogFormat.render` makes one line from an `Entry`,
the facts a connection's access record (geows.runtime.record) holds when it ends.

Values from the request (its line, headers, path, query, the user) and geows' notes are
escaped as httpd's ap_escape_logitem does: `"` and `\\` get a backslash, \\b \\n \\r \\t
\\v their C escapes, other bytes outside printable ASCII \\xhh.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from geows.errors import ConfigError

if TYPE_CHECKING:
    from geows.http import Request

# httpd's DEFAULT_LOG_FORMAT, the Common Log Format: TransferLog's without a LogFormat.
COMMON = '%h %l %u %t "%r" %>s %b'

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_C_ESCAPES = {0x08: "\\b", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v",
              0x22: '\\"', 0x5C: "\\\\"}
_ESCAPE = [_C_ESCAPES.get(byte, chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}")
           for byte in range(256)]
_ERROR_LOG_ESCAPE = [*_ESCAPE[:0x22], '"', *_ESCAPE[0x23:]]  # ap_escape_errorlog_item's
_PLAIN = re.compile(r'[\x20-\x7e]*').fullmatch  # printable ASCII: escaped unless " or \
_LITERAL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


@dataclass(frozen=True)
class ServerNames:
    """What a line says of the server that answered: %v and %p (canonical)."""

    name: str               # ServerName, or the machine's host name as httpd guesses it
    port: int | None = None  # ServerName's port; None: the scheme's (80, or 443 for TLS)


@dataclass(slots=True, kw_only=True)
class Entry:
    """The facts of one connection that its access log lines can tell."""

    client_ip: str            # %a %h: the client, as mod_remoteip says
    peer_ip: str              # %{c}a %{c}h: the connection's peer
    remote_port: int          # %{remote}p
    local_ip: str             # %A
    local_port: int           # %{local}p
    began: float              # time.time() when accepted: %t
    ended: float              # time.time() when it ended: %{end:...}t
    duration: float           # seconds: %D %T
    server: ServerNames       # %v %p
    request: Request | None = None   # the first request: %r %m %U %q %H %i %C %V
    status: int | None = None        # %s %>s
    response_head: bytes | None = None  # the response head as sent: %o
    body_bytes: int | None = None    # sent after the response head: %B %b (None: unknown)
    bytes_in: int = 0                # %I, mod_logio's
    bytes_out: int = 0               # %O
    user: str | None = None          # %u
    keepalives: int = 0              # %k: requests after the first on the connection
    aborted: bool = False            # %X
    handler: str | None = None       # %R
    tls: tuple[str, str] | None = None  # (protocol, cipher): %{...}x %{...}c
    notes: dict[str, str] = field(default_factory=dict)  # %{name}n


def escape(text: str, *, quote: bool = True) -> str:
    """ap_escape_logitem: the bytes of `text` (latin-1 when it fits, as request bytes were
    decoded, else UTF-8) with `"` `\\` and non-printable ones escaped; `quote=False`: as
    ap_escape_errorlog_item escapes what goes in the error log, `"` left as it is."""
    if _PLAIN(text) and (not quote or '"' not in text) and "\\" not in text:
        return text
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogateescape")
    table = _ESCAPE if quote else _ERROR_LOG_ESCAPE
    return "".join([table[byte] for byte in data])


_Render = Callable[[Entry, str], "str | None"]
# One %-item: how to render it, its {argument}, the statuses it is limited to (None: all)
# and whether that list is negated (%!200,304{...}).
_Item = tuple[_Render, str, "frozenset[int] | None", bool]


class LogFormat:
    """A compiled format string."""

    __slots__ = ("text", "letters", "_items")

    def __init__(self, text: str, items: list[_Item], letters: frozenset[str]):
        self.text = text
        self.letters = letters  # the item letters it uses ("o": response headers...)
        self._items = items

    @classmethod
    def parse(cls, text: str) -> LogFormat:
        """Compile as mod_log_config's parse_log_string; ConfigError with httpd's message."""
        items: list[_Item] = []
        letters = set()
        pos = 0
        while pos < len(text):
            if text[pos] != "%":
                end = text.find("%", pos)
                end = len(text) if end < 0 else end
                items.append((_constant, _unescape(text[pos:end]), None, False))
                pos = end
            elif text.startswith("%%", pos):
                items.append((_constant, "%", None, False))
                pos += 2
            else:
                item, letter, pos = _parse_item(text, pos + 1)
                items.append(item)
                letters.add(letter)
        return cls(text, items, frozenset(letters))

    def render(self, entry: Entry) -> str:
        parts = []
        for render, arg, statuses, negated in self._items:
            if statuses is not None and (entry.status in statuses) == negated:
                parts.append("-")
                continue
            value = render(entry, arg)
            parts.append("-" if value is None else value)
        return "".join(parts)

    def __reduce__(self) -> tuple[Callable[[str], LogFormat], tuple[str]]:
        """Pickled as its text, compiled again (the master hands workers the parsed config:
        its items are closures)."""
        return LogFormat.parse, (self.text,)

    def __repr__(self) -> str:
        return f"LogFormat({self.text!r})"


def _parse_item(text: str, pos: int) -> tuple[_Item, str, int]:
    """The %-item starting after its '%': modifiers in any order, then its letter."""
    negated = False
    statuses: list[int] = []
    arg = ""
    while pos < len(text):
        char = text[pos]
        if char == "!":
            negated = not negated
            pos += 1
        elif char in "<>,":  # < >: original or final request; geows has no redirects
            pos += 1
        elif char == "{":
            end = text.find("}", pos + 1)
            if end < 0:
                break  # the argument takes the rest: nothing is left for the letter
            arg, pos = text[pos + 1:end], end + 1
        elif "0" <= char <= "9":
            digits = re.match(r"[0-9]+", text[pos:])[0]  # type: ignore[index]
            statuses.append(int(digits))
            pos += len(digits)
        else:
            letter = text[pos:pos + 3] if text[pos:pos + 3] in _ITEMS else char
            if letter not in _ITEMS:
                raise ConfigError(f"Unrecognized LogFormat directive %{char}")
            item = (_ITEMS[letter], arg, frozenset(statuses) if statuses else None, negated)
            return item, letter, pos + len(letter)
    raise ConfigError("Ran off end of LogFormat parsing args to some directive")


def _unescape(text: str) -> str:
    """Literal text: \\n \\t \\r \\\\ as mod_log_config reads them; any other backslash stays."""
    if "\\" not in text:
        return text
    return re.sub(r"\\([ntr\\])", lambda m: _LITERAL_ESCAPES[m[1]], text)


def _constant(entry: Entry, text: str) -> str:
    return text


def _request(attribute: str) -> _Render:
    def render(entry: Entry, arg: str) -> str | None:
        return None if entry.request is None else escape(getattr(entry.request, attribute))
    return render


def _request_line(entry: Entry, arg: str) -> str | None:
    if entry.request is None:
        return None
    return escape(entry.request.head.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1"))


def _query(entry: Entry, arg: str) -> str | None:
    if entry.request is None:
        return None
    return f"?{escape(entry.request.query)}" if "?" in entry.request.target else ""


def _header_in(entry: Entry, name: str) -> str | None:
    if entry.request is None:
        return None
    value = entry.request.headers.get(name)
    return None if value is None else escape(value)


def _header_out(entry: Entry, name: str) -> str | None:
    if entry.response_head is None:
        return None
    wanted = name.lower().encode("latin-1", "replace")
    for line in entry.response_head.split(b"\r\n")[1:]:
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == wanted:
            return escape(value.strip().decode("latin-1"))
    return None


def _cookie(entry: Entry, name: str) -> str | None:
    """The value of the request's cookie `name` (mod_log_config 2.4 matches whole names)."""
    if entry.request is None:
        return None
    for header in entry.request.headers.get_all("Cookie"):
        for pair in header.split(";"):
            key, equals, value = pair.strip().partition("=")
            if equals and key.strip() == name:
                return escape(value.strip())
    return None


def _server_name_from_host(entry: Entry, arg: str) -> str:
    """%V with UseCanonicalName Off (httpd's default): the name of the host that picked the
    vhost (an absolute-form's, else the Host header's), lowercased, without its port; the
    server's name without one."""
    host = entry.request.host if entry.request is not None else None
    if host:
        name = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        return escape(name.lower().rstrip("."))
    return escape(entry.server.name)


def _user(entry: Entry, arg: str) -> str | None:
    if entry.user is None:
        return None
    return escape(entry.user) if entry.user else '""'


def _address(entry: Entry, arg: str) -> str:
    return entry.peer_ip if arg == "c" else entry.client_ip


def _port(entry: Entry, arg: str) -> str:
    kind = arg.lower() or "canonical"
    if kind == "canonical":
        port = entry.server.port or (443 if entry.tls else 80)
    elif kind == "local":
        port = entry.local_port
    elif kind == "remote":
        port = entry.remote_port
    else:
        return arg  # httpd logs an unknown argument as it is
    return str(port)


def _process(entry: Entry, arg: str) -> str:
    if arg in ("", "pid"):
        return str(os.getpid())
    if arg == "tid":
        return str(_os_thread_ident())
    if arg == "hextid":
        return f"{_os_thread_ident():x}"
    return arg


def _os_thread_ident() -> int:
    """The OS thread's id (pthread_self, httpd's apr_os_thread_current), not the greenlet's
    that monkeypatching puts in _thread.get_ident."""
    # gevent is imported here, where a line is written, so that reading a config (which
    # parses LogFormat) loads no gevent (docs/explanation/layout.md).
    from gevent import monkey

    return monkey.get_original("_thread", "get_ident")()


def _duration(entry: Entry, unit: str) -> str:
    scale = {"": 1, "s": 1, "ms": 1_000, "us": 1_000_000}.get(unit.lower())
    return unit if scale is None else str(int(entry.duration * scale))


def _time(entry: Entry, arg: str) -> str:
    """%t and %{format}t: [begin:|end:] then nothing (CLF), sec, msec, usec, msec_frac,
    usec_frac, or a strftime format."""
    when = entry.began
    if arg.startswith("begin") and arg[5:6] in ("", ":"):
        arg = arg[6:]
    elif arg.startswith("end") and arg[3:4] in ("", ":"):
        when, arg = entry.ended, arg[4:]
    micros = int(when * 1_000_000)
    if arg == "":
        return _clf_time(when)
    absolute = {"sec": micros // 1_000_000, "msec": micros // 1_000, "usec": micros,
                "msec_frac": f"{micros // 1_000 % 1_000:03d}",
                "usec_frac": f"{micros % 1_000_000:06d}"}.get(arg)
    if absolute is not None:
        return str(absolute)
    try:
        return time.strftime(arg, time.localtime(when))
    except ValueError:  # a format the C library refuses: httpd would log an empty string
        return ""


def _clf_time(when: float) -> str:
    local = time.localtime(when)
    offset = local.tm_gmtoff
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    return (f"[{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year}:"
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
            f"{sign}{offset // 3600:02d}{offset % 3600 // 60:02d}]")


def _ssl_variable(entry: Entry, name: str) -> str | None:
    """mod_ssl's %{VAR}x, for the variables geows knows."""
    if name == "HTTPS":
        return "on" if entry.tls else "off"
    if entry.tls is None:
        return None
    return {"SSL_PROTOCOL": entry.tls[0], "SSL_CIPHER": entry.tls[1]}.get(name)


def _ssl_status(entry: Entry, name: str) -> str | None:
    """mod_ssl's %{version}c and %{cipher}c."""
    if entry.tls is None:
        return None
    return {"version": entry.tls[0], "cipher": entry.tls[1]}.get(name)


def _body_bytes(clf: bool) -> _Render:
    def render(entry: Entry, arg: str) -> str | None:
        if entry.body_bytes is None or (clf and entry.body_bytes == 0):
            return None
        return str(entry.body_bytes)
    return render


def _note(entry: Entry, name: str) -> str | None:
    value = entry.notes.get(name)
    return None if value is None else escape(value)


def _fact(render: Callable[[Entry], Any]) -> _Render:
    def item(entry: Entry, arg: str) -> str | None:
        value = render(entry)
        return None if value is None else str(value)
    return item


def _unknown(entry: Entry, arg: str) -> None:
    """What geows does not have: no identd (%l), no environment variables (%e, no
    mod_setenvif), no file name (%f), no request log ID (%L), no trailers (%^ti %^to), no
    time to first byte (%^FB)."""
    return None


# Every item letter httpd 2.4 knows: mod_log_config's, mod_logio's (I O S ^FB) and
# mod_ssl's (x c).
_ITEMS: dict[str, _Render] = {
    "a": _address,
    "A": _fact(lambda e: e.local_ip),
    "B": _body_bytes(clf=False),
    "b": _body_bytes(clf=True),
    "C": _cookie,
    "D": _fact(lambda e: int(e.duration * 1_000_000)),
    "e": _unknown,
    "f": _unknown,
    "h": _address,  # HostnameLookups Off, httpd's default: the address
    "H": _request("version"),
    "i": _header_in,
    "I": _fact(lambda e: e.bytes_in),
    "k": _fact(lambda e: e.keepalives),
    "l": _unknown,
    "L": _unknown,
    "m": _request("method"),
    "n": _note,
    "o": _header_out,
    "O": _fact(lambda e: e.bytes_out),
    "p": _port,
    "P": _process,
    "q": _query,
    "r": _request_line,
    "R": _fact(lambda e: e.handler),
    "s": _fact(lambda e: e.status),
    "S": _fact(lambda e: e.bytes_in + e.bytes_out),
    "t": _time,
    "T": _duration,
    "u": _user,
    "U": _request("path"),
    "v": lambda entry, arg: escape(entry.server.name),
    "V": _server_name_from_host,
    "X": _fact(lambda e: "X" if e.aborted else "-"),
    "x": _ssl_variable,
    "c": _ssl_status,
    "^ti": _unknown,
    "^to": _unknown,
    "^FB": _unknown,
}
