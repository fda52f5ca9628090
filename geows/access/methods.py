"""Sets of HTTP methods as httpd's method masks: <Limit>, <LimitExcept>, Require method,
AllowMethods.

httpd numbers methods; HEAD shares GET's number, names are case-sensitive, and <Limit>
registers names it does not know as extension methods. A set is kept as names plus a
flag for "every method except these", which is what <LimitExcept> needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from geows.errors import ConfigError

# httpd's built-in methods (ap_method_number_of); others are invalid in Require method
# and AllowMethods.
KNOWN = frozenset({
    "GET", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL", "CHECKOUT",
    "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE", "MKACTIVITY",
    "BASELINE-CONTROL", "MERGE",
})


def number(method: str) -> str:
    """The name httpd's method number stands for: HEAD is GET."""
    return "GET" if method == "HEAD" else method


@dataclass(frozen=True)
class MethodSet:
    names: frozenset[str] = frozenset()
    inverted: bool = False  # True: every method except `names`

    def __contains__(self, method: str) -> bool:
        return (number(method) in self.names) != self.inverted

    def __invert__(self) -> MethodSet:
        return MethodSet(self.names, not self.inverted)

    def __or__(self, other: MethodSet) -> MethodSet:
        if self.inverted and other.inverted:
            return MethodSet(self.names & other.names, True)
        if self.inverted or other.inverted:
            positive, negative = (other, self) if self.inverted else (self, other)
            return MethodSet(negative.names - positive.names, True)
        return MethodSet(self.names | other.names)

    def __and__(self, other: MethodSet) -> MethodSet:
        return ~(~self | ~other)

    def __bool__(self) -> bool:
        return self.inverted or bool(self.names)


ALL = MethodSet(inverted=True)


def parse_known(args: tuple[str, ...], prefix: str = "") -> MethodSet:
    """Require method / AllowMethods arguments: built-in methods only."""
    for arg in args:
        if arg not in KNOWN and arg != "HEAD":
            raise ConfigError(f"{prefix}Invalid Method '{arg}'")
    return MethodSet(frozenset(number(arg) for arg in args))


def limit(key: str, args: tuple[str, ...]) -> MethodSet:
    """The methods a <Limit> or <LimitExcept> section covers."""
    if "TRACE" in args:
        raise ConfigError("TRACE cannot be controlled by <Limit>, see TraceEnable")
    methods = MethodSet(frozenset(number(arg) for arg in args))
    return ~methods if key == "limitexcept" else methods
