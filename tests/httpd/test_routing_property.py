"""Request targets built from the pieces attackers use, geows against real httpd: the same
section matched, in the same vhost, with the same access verdict (hypothesis, fixed seed).

Targets are origin-form paths (and `//`-led ones) or absolute-forms naming a vhost, from
segments such as `.`, `..`, `%2e`, `%2f`, `%00`, `;`, an empty one (`//`), letters
%-encoded, upper case, and the names the rules use; each goes with a Host header (or
none), as a plain GET on a keep-alive connection or as a WebSocket handshake on a
connection of its own, to both fronts of front_lab: geows and httpd's mod_proxy, one
config text.

What matched is observed from outside, the same way for both fronts, so the test does not
depend on how geows matches. Every section of front_lab.FRONT has an effect of its own
that a client or the backend sees:
- a denying `<Location>` (/private, /admin, /public/closed/, ^/docs/secret, admin.test's
  /): 403, nothing forwarded; other.test's /private/open, which grants again, lets its
  request through;
- each WebSocket section names its plugin's init in X-WebSocket on the 101 (chat_init:
  the main server's /chat$; public_init, other_init: each vhost's /ws), and a plain GET
  there gets front_lab.outcome's 426;
- the vhost shows in the target the backend receives: each vhost's `ProxyPass /` maps onto
  a prefix of its own (/ for public.test, /admin-vhost/, /other/), the main server's /docs
  onto /public/; the backend's per-front log records the target as it arrived.
A header naming the section (mod_headers in httpd) would exist on one side only: geows
does not run mod_headers, so nothing that only one front can say is compared.

The verdict for a target: the status, the handler of a 101, and the requests the backend
received for it (method and target). REGRESSIONS are the differences found, kept as
explicit examples, each with what it probes; those where httpd's answer is a quirk of its
own say so, and are compared all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.httpd import front_lab
from tests.httpd.front_lab import Connection, Fronts

TARGETS = 2000   # distinct probes at least
EXAMPLES = 2300  # hypothesis draws a few probes twice

VHOSTS = ("public.test", "admin.test", "other.test", "x.other.test", "unknown.test")
SEGMENTS = ("", ".", "..", "%2e", "%2e%2e", ".%2E", "%2f", "%2F", "%00", ";", ";x=1", "x;",
            "%3b", "\\", "public", "private", "admin", "docs", "chat", "ws", "open",
            "closed", "secret", "index.html", "secret.html", "adminonly.html", "PRIVATE",
            "Admin", "%70rivate", "%64ocs", "%63hat", "%2fprivate", "x")
# The Host header: a vhost's name as is, in another case, with a trailing dot or a port,
# or none (HTTP/1.1 requires one: 400).
HOSTS = (*VHOSTS, "ADMIN.test", "admin.test.", "admin.test:1", "other.test:80", None)
UPGRADE = ("Upgrade: websocket", "Connection: Upgrade",
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")


@dataclass(frozen=True)
class Probe:
    target: str
    host: str | None
    upgrade: bool

    def raw(self) -> bytes:
        lines = [f"GET {self.target} HTTP/1.1"]
        if self.host is not None:
            lines.append(f"Host: {self.host}")
        lines += UPGRADE if self.upgrade else ()
        return "\r\n".join([*lines, "", ""]).encode("latin-1")


paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5).map(
    lambda segments: "/" + "/".join(segments))
authorities = st.sampled_from(VHOSTS).flatmap(lambda name: st.sampled_from(
    [name, name.upper(), f"{name}.", f"{name}:1", f"{name}:80"]))
targets = st.one_of(
    paths,
    paths.map(lambda path: "/" + path),                      # //...: slashes to merge
    st.tuples(st.sampled_from(("http", "HTTP")), authorities, paths).map(
        lambda parts: f"{parts[0]}://{parts[1]}{parts[2]}"),  # absolute-form
    st.tuples(paths, st.sampled_from(("?", "?x=/private", "?%2e%2e"))).map("".join),
)
probes = st.builds(Probe, targets, st.sampled_from(HOSTS),
                   st.sampled_from((False, False, False, True)))   # a handshake in four

# Differences found on the way, kept as explicit examples: what each one probes.
# "quirk": httpd's own way, from its source (see the issue 21 report); compared all the same.
REGRESSIONS = {
    Probe("//private/secret.html", "public.test", False): "slashes merged before matching",
    Probe("//admin/chat", "public.test", True): "merged slashes: /admin denies the handshake",
    Probe("//private", "public.test", False): "merged slashes: 403, not forwarded as //private",
    Probe("//admin/docs/docs", "public.test", False): "merged slashes: 403, not forwarded",
    Probe("//chat", "public.test", False): "merged slashes: the WebSocket location",
    Probe("//index.html/%63hat/%2e%2e/%2e%2e/docs", "public.test", False):
        "dot segments resolved after %2e and %63 are decoded: /docs, mapped to /public/",
    Probe("http://admin.test/adminonly.html", "public.test", False):
        "the absolute-form's host chooses the vhost (RFC 9112 3.2.2), not Host",
    Probe("HTTP://x.other.test:80/secret.html", "admin.test.", False):
        "absolute-form: scheme and host compared without case, a port ignored",
    Probe("HTTP://public.test:80/%2e", "admin.test", False):
        "absolute-form: forwarded as its path (/), in the vhost it names",
    Probe("http://other.test:1/%63hat", "admin.test", True):
        "absolute-form: that vhost's WebSocket location, with Host naming a denied one",
    Probe("http://public.test:80/ws", "admin.test", False): "absolute-form: public's /ws",
    Probe("http://public.test/", "public.test", False): "absolute-form forwarded as /",
    Probe("/%64ocs/index.html", "public.test", False):
        "ProxyPass matched on the decoded path and the rest forwarded from it",
    Probe("/%64ocs?%2e%2e", "public.test", False): "/docs mapped, the query kept as sent",
    Probe("//%3b//secret/index.html/admin", "other.test", True):
        "%3b decoded: the backend gets ';', slashes merged",
    Probe("//;/ws/secret", "public.test", False):
        "a ';' segment is a segment: not /ws, forwarded",
    Probe("//;/ws/secret/%2e/.%2E", "other.test", True):
        "a ';' segment, dot segments: forwarded as /other/;/ws/",
    Probe("/;x=1/%2f/..", "x.other.test", False):
        "'..' removes the %2f segment before %2f is looked at: forwarded",
    Probe("//admin/.%2E/public", "other.test", False): "'.%2E' is '..': forwarded as /public",
    Probe("//%2e%2e/admin/private/Admin", "ADMIN.test", False):
        "above the root once decoded and merged: 400 (ap_normalize_path)",
    Probe("/%00/././%2e%2e/private?%2e%2e", "public.test", False):
        "dot segments go before %-decoding: the %00 segment is gone, /private is 403",
    Probe("//open/open/open/open/%00", "public.test", False):
        "quirk: %00 in the path is 404 (util.c unescape_url), not 400",
    Probe("//%2F", "admin.test.", False):
        "quirk: %2f is 404 (AllowEncodedSlashes Off) before access control's 403",
    Probe("//;/.%2E/%2fprivate/../open", "admin.test:1", False):
        "quirk: the %2f segment removed by '..' first: 403 in admin.test, not 404",
    Probe("/%2fprivate?", None, False): "quirk: no Host in HTTP/1.1 is 400 before all else",
    Probe("/chat", None, False): "no Host: 400 before the WebSocket location",
}


def verdict(response: front_lab.Response | None, seen: list[front_lab.Seen]) -> tuple:
    """(status and handler, or None when closed unanswered; what the backend served)."""
    forwarded = tuple((s.method, s.target) for s in front_lab.served(seen))
    return (None if response is None else front_lab.outcome(response)), forwarded


def test_targets_match_as_in_httpd(fronts: Fronts) -> None:
    connections = {front.name: Connection(front.port) for front in fronts.both}
    tried: set[Probe] = set()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(probes)
    def same_verdict(probe: Probe) -> None:
        tried.add(probe)
        fronts.backend.received(wait=0)   # what came late for an earlier probe
        answers = {name: connection.ask(probe.raw(), alone=probe.upgrade)
                   for name, connection in connections.items()}
        seen = fronts.backend.received()
        got = {front.name: verdict(answers[front.name], seen.get(front.backend_port, []))
               for front in fronts.both}
        assert got["geows"] == got["httpd"], probe

    for probe in REGRESSIONS:
        same_verdict = example(probe)(same_verdict)
    try:
        same_verdict()
    finally:
        for connection in connections.values():
            connection.close()
    assert len(tried) >= TARGETS, f"only {len(tried)} distinct targets"
