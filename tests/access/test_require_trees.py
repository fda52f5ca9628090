"""Random Require trees against a plain truth table written from mod_authz_core's
documentation, not from geows' code.

The documented rules: a provider grants or denies; `Require not` turns a grant into a
denial and a denial into "no opinion" (a negation can never grant); <RequireAll> denies
if any child denies, else grants if any child grants; <RequireAny> grants if any child
grants, else denies if any denies; <RequireNone> is the negation of a <RequireAny>; the
section's own lines form a <RequireAny>, and the request passes only when it grants.
A config is refused when a negation sits anywhere but directly in a <RequireAll>, or when
a <RequireAll> (its nested <RequireAll>s melted in, as httpd does) has no positive child.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from geows.access.check import check
from geows.errors import ConfigError
from tests.access.sections import section

GRANT, DENY, NEUTRAL = "grant", "deny", "neutral"

ADDRESSES = ["10.0.0.1", "10.0.0.2", "10.1.0.1", "192.168.1.1", "::1", "2001:db8::1",
             "2001:db8::2", "2001:db8:1::1"]
CLIENTS = ADDRESSES + ["::ffff:10.0.0.1", "::ffff:192.168.1.1", "172.16.0.1", "fe80::1"]


@st.composite
def ip_rules(draw):
    words = []
    for _ in range(draw(st.integers(1, 2))):
        address = draw(st.sampled_from(ADDRESSES))
        prefixes = [None, 8, 16, 24, 32] if "." in address else [None, 16, 32, 64, 128]
        prefix = draw(st.sampled_from(prefixes))
        words.append(address if prefix is None else f"{address}/{prefix}")
    return ("ip", tuple(words))


leaves = st.tuples(
    st.one_of(ip_rules(), st.sampled_from([("all", ("granted",)), ("all", ("denied",))])),
    st.booleans(),  # negated
).map(lambda t: ("leaf", *t))

trees = st.recursive(
    leaves,
    lambda children: st.tuples(st.sampled_from(["RequireAll", "RequireAny", "RequireNone"]),
                               st.lists(children, min_size=1, max_size=3)),
    max_leaves=8,
)


def render(node, depth: int = 0) -> list[str]:
    pad = "  " * depth
    if node[0] == "leaf":
        _, (provider, args), negated = node
        return [f"{pad}Require {'not ' if negated else ''}{provider} {' '.join(args)}"]
    kind, children = node
    body = [line for child in children for line in render(child, depth + 1)]
    return [f"{pad}<{kind}>", *body, f"{pad}</{kind}>"]


# --- the truth table ------------------------------------------------------------------

def matches(word: str, client: str) -> bool:
    network = ipaddress.ip_network(word, strict=False)
    ip = ipaddress.ip_address(client)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.version == network.version and ip in network


def negate(result: str) -> str:
    return DENY if result == GRANT else NEUTRAL


def evaluate(node, client: str) -> str:
    if node[0] == "leaf":
        _, (provider, args), negated = node
        if provider == "all":
            result = GRANT if args == ("granted",) else DENY
        else:
            result = GRANT if any(matches(w, client) for w in args) else DENY
        return negate(result) if negated else result
    kind, children = node
    results = [evaluate(child, client) for child in children]
    if kind == "RequireAll":
        return DENY if DENY in results else GRANT if GRANT in results else NEUTRAL
    any_result = GRANT if GRANT in results else DENY if DENY in results else NEUTRAL
    return negate(any_result) if kind == "RequireNone" else any_result


def valid(node, parent: str = "RequireAny") -> bool:
    negated = node[2] if node[0] == "leaf" else node[0] == "RequireNone"
    if negated and parent != "RequireAll":
        return False
    if node[0] == "leaf":
        return True
    kind, children = node
    if not all(valid(child, kind) for child in children):
        return False
    # a <RequireAll> directly in a <RequireAll> melts into it and is checked as part of it
    return kind != "RequireAll" or parent == "RequireAll" or has_positive(node)


def has_positive(all_node) -> bool:
    """A <RequireAll>'s children, nested <RequireAll>s melted in: one is not negated."""
    for child in all_node[1]:
        if child[0] == "leaf" and not child[2] or child[0] == "RequireAny":
            return True
        if child[0] == "RequireAll" and has_positive(child):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(trees, min_size=1, max_size=3), st.sampled_from(CLIENTS))
def test_random_trees(tops, client):
    text = "\n".join(line for top in tops for line in render(top))
    is_valid = all(valid(top) for top in tops)
    try:
        policy = section(text)
    except ConfigError:
        assert not is_valid, text
        return
    assert is_valid, text
    expected = evaluate(("RequireAny", tops), client)
    decision = check(policy, client_ip=client, method="GET", path="/", authorization=None)
    assert (decision.status is None) == (expected == GRANT), (text, client, expected)
    assert decision.status in (None, 403)
