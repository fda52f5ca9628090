"""What the access-control differential tests share: the lab tree, the corpus' comment
lines, and the matrix of handshakes every corpus config gets.

The lab tree (a temporary directory www-data can enter, `${GEOWS_LAB}` in the configs):

    www/html/        a DocumentRoot under www/ (standing for Debian's /var/www/html)
    www/html/dir/    a directory that exists on disk, and www/html/file.txt a file
    outside/         a DocumentRoot outside www/
    aliased/         an Alias target
    auth/users       one user per htpasswd hash format, written by the real `htpasswd`
    auth/groups      an AuthGroupFile
    prelude.conf     `${GEOWS_ACCESS_PRELUDE}`: modules, logs, `Listen ${GEOWS_PORT_A}`
"""

from __future__ import annotations

import base64
import ipaddress
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.httpd import harness

CORPUS = Path(__file__).parent / "access_corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.conf"))
HTPASSWD = "/usr/bin/htpasswd"

MODULES = ["mpm_event", "authz_core", "authz_host", "authz_user", "authz_groupfile",
           "authn_core", "authn_file", "auth_basic", "access_compat", "remoteip", "alias",
           "headers"]

PRELUDE = """\
{modules}
LoadModule websocket_module {standin}
User ${{GEOWS_RUN_USER}}
Group ${{GEOWS_RUN_GROUP}}
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
ServerName main.test
Listen 127.0.0.1:${{GEOWS_PORT_A}}
Listen [::1]:${{GEOWS_PORT_A}}
"""

# One user per format htpasswd writes, all with this password (a colon in it: only the
# first colon of the credentials separates the user; 11 characters: DES crypt keeps 8).
PASSWORD = "open:Sesame"
USERS = {"u-bcrypt": "-B", "u-md5": "-m", "u-sha1": "-s", "u-crypt": "-d",
         "u-sha256": "-2", "u-sha512": "-5", "u-plain": "-p"}
GROUPS = "admins: u-bcrypt u-sha512\nstaff: u-md5 u-crypt\nstaff: u-sha1\n"

SOURCES = ("127.0.0.1", "127.0.0.2", "::1")
XFF = ("203.0.113.5", "10.1.2.3", "203.0.113.9, 203.0.113.5", "10.1.2.3, 203.0.113.5",
       "203.0.113.5, 10.1.2.3", "127.0.0.2", "::1", "garbage")


def basic(user: str, password: str, scheme: str = "Basic") -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: {scheme} {token}"


# label -> Authorization header (None: none sent)
CREDENTIALS: dict[str, str | None] = {
    "none": None,
    "wrong": basic("u-md5", "wrong"),
    "unknown": basic("nobody", PASSWORD),
    **{user: basic(user, PASSWORD) for user in USERS},
    "crypt-8": basic("u-crypt", PASSWORD[:8] + "-not-checked"),
    "lowercase-scheme": basic("u-bcrypt", PASSWORD, scheme="basic"),
    "bearer": "Authorization: Bearer " + base64.b64encode(b"u-md5:" + PASSWORD.encode()).decode(),
    "not-base64": "Authorization: Basic !!!",
    "no-colon": "Authorization: Basic " + base64.b64encode(b"u-md5").decode(),
}


@dataclass(frozen=True)
class AccessLab:
    tree: Path          # ${GEOWS_LAB}
    prelude: Path
    env: dict[str, str]  # httpd's environment (lab.env) with GEOWS_LAB, GEOWS_ACCESS_PRELUDE
    port: int           # httpd's ${GEOWS_PORT_A}; geows gets another each time

    def env_for(self, port: int) -> dict[str, str]:
        return {**self.env, "GEOWS_PORT_A": str(port)}


def make_tree(standin: Path, run: Path, base_env: dict[str, str]) -> AccessLab:
    tree = Path(tempfile.mkdtemp(prefix="geows-httpd-access-"))
    tree.chmod(0o755)  # httpd serves as www-data, and checks passwords as www-data
    for sub in ("www/html/dir", "outside", "aliased", "auth"):
        (tree / sub).mkdir(parents=True)
    (tree / "www/html/file.txt").write_text("a file\n")
    users = tree / "auth/users"
    for user, flag in USERS.items():
        create = [] if users.exists() else ["-c"]
        subprocess.run([HTPASSWD, *create, "-b", flag, str(users), user, PASSWORD],
                       check=True, capture_output=True)
    (tree / "auth/groups").write_text(GROUPS)
    for path in (users, tree / "auth/groups"):
        path.chmod(0o644)
    prelude = tree / "prelude.conf"
    modules = "\n".join(f"LoadModule {name}_module {harness.MODULES}/mod_{name}.so"
                        for name in MODULES)
    prelude.write_text(PRELUDE.format(modules=modules, standin=standin, run=run))
    env = {**base_env, "GEOWS_LAB": str(tree), "GEOWS_ACCESS_PRELUDE": str(prelude)}
    return AccessLab(tree, prelude, env, harness.free_dual_port())


# The corpus' comment lines (httpd and geows skip comments).


@dataclass(frozen=True)
class Probe:
    path: str
    host: str = "main.test"
    source: str = "127.0.0.1"
    credentials: str = "none"   # a CREDENTIALS label
    xff: str | None = None      # X-Forwarded-For

    def headers(self) -> tuple[str, ...]:
        out = []
        if CREDENTIALS[self.credentials] is not None:
            out.append(CREDENTIALS[self.credentials])
        if self.xff is not None:
            out.append(f"X-Forwarded-For: {self.xff}")
        return tuple(out)

    def send(self, port: int) -> harness.Reply:
        return harness.handshake(port, self.path, host=self.host, source=self.source,
                                 headers=self.headers())

    def __str__(self) -> str:
        extra = f" xff={self.xff!r}" if self.xff is not None else ""
        return (f"{self.path} host={self.host} from={self.source} "
                f"credentials={self.credentials}{extra}")


@dataclass(frozen=True)
class Expectation:
    probe: Probe
    status: int


@dataclass
class CorpusFile:
    path: Path
    paths: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.path.read_text()

    def matrix(self) -> list[Probe]:
        """Every path x host x source; every credential where the file uses AuthType,
        every X-Forwarded-For where it uses RemoteIPHeader."""
        credentials = list(CREDENTIALS) if re.search(r"^\s*AuthType\b", self.text,
                                                     re.MULTILINE | re.IGNORECASE) else ["none"]
        forwarded = [None, *XFF] if re.search(r"^\s*RemoteIPHeader\b", self.text,
                                               re.MULTILINE | re.IGNORECASE) else [None]
        return [Probe(path, host, source, label, xff)
                for path in self.paths for host in self.hosts or ["main.test"]
                for source in SOURCES for label in credentials for xff in forwarded]


_OPTION = {"host": "host", "from": "source", "user": "credentials", "xff": "xff"}


def _probe(words: list[str]) -> Probe:
    path, *options = words
    kwargs = {}
    for option in options:
        name, _, value = option.partition("=")
        kwargs[_OPTION[name]] = value.replace(",", ", ") if name == "xff" else value
    return Probe(path, **kwargs)


def read_corpus_file(path: Path) -> CorpusFile:
    """`# path: P...`: the paths to probe; `# host: H...`: Host headers (default main.test);
    `# expect: PATH [host=H] [from=IP] [user=LABEL] [xff=A,B] -> STATUS`: what the real httpd
    answers (200: its WebSocket handler ran)."""
    corpus = CorpusFile(path)
    for line in path.read_text().splitlines():
        match = re.match(r"#\s*(path|host|expect):\s*(.*)$", line.strip())
        if not match:
            continue
        kind, rest = match.groups()
        if kind == "path":
            corpus.paths += rest.split()
        elif kind == "host":
            corpus.hosts += rest.split()
        else:
            probe, _, status = rest.partition("->")
            corpus.expectations.append(Expectation(_probe(probe.split()), int(status)))
    for expectation in corpus.expectations:
        assert expectation.probe.credentials in CREDENTIALS, expectation
    return corpus


# Random Require trees for hypothesis: nodes are "Require ..." lines or (container, children).

ADDRESSES = ("127.0.0.1", "127.0.0.2", "::1", "127.0.0.0/8", "127.0.0.2/31", "10.0.0.1")

positive_leaf = st.one_of(
    st.sampled_from(["Require all granted", "Require all denied"]),
    st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2, unique=True)
    .map(lambda ips: "Require ip " + " ".join(ips)))
negative_leaf = st.one_of(
    st.sampled_from(["Require not all granted", "Require not all denied"]),
    st.sampled_from(ADDRESSES).map(lambda ip: f"Require not ip {ip}"))


def trees(depth: int) -> st.SearchStrategy:
    """(positive, negative) strategies of nodes; a node is a line or (kind, children).

    Valid by httpd's rules as far as they are known (a negative Require or a RequireNone
    has no effect directly in a RequireAny or a RequireNone; a RequireAll needs a positive
    member); httpd -t has the last word."""
    if depth == 0:
        return positive_leaf, negative_leaf
    positive, negative = trees(depth - 1)
    require_all = st.tuples(st.lists(positive, min_size=1, max_size=2),
                            st.lists(negative, max_size=2)).map(
        lambda parts: ("RequireAll", parts[0] + parts[1]))
    require_any = st.lists(positive, min_size=1, max_size=3).map(
        lambda children: ("RequireAny", children))
    require_none = st.lists(st.one_of(positive_leaf, require_any, require_all), min_size=1,
                            max_size=2).map(lambda children: ("RequireNone", children))
    return (st.one_of(positive_leaf, require_all, require_any),
            st.one_of(negative_leaf, require_none))


def render(node, indent: str = "  ") -> str:
    if isinstance(node, str):
        return indent + node + "\n"
    kind, children = node
    inner = "".join(render(child, indent + "  ") for child in children)
    return f"{indent}<{kind}>\n{inner}{indent}</{kind}>\n"


TREES_HEAD = """Include ${GEOWS_ACCESS_PRELUDE}
DocumentRoot ${GEOWS_LAB}/www/html
<Location />
  SetHandler websocket-handler
  WebSocketHandler plugins/ws.py ws_init
</Location>
"""


def location(n: int, top: list) -> str:
    return f"<Location /t{n}>\n" + "".join(render(node) for node in top) + "</Location>\n"


def random_trees(count: int = 40) -> list[list]:
    """`count` different Locations' worth of Require trees (one or two top-level nodes),
    drawn by hypothesis with a fixed seed: the same trees on every run and machine."""
    drawn: dict[str, list] = {}

    @settings(max_examples=count * 3, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.lists(trees(2)[0], min_size=1, max_size=2))
    def draw(top: list) -> None:
        if len(drawn) < count:
            drawn.setdefault(location(0, top), top)

    draw()
    return list(drawn.values())


def decide(node, source: str) -> str:
    """mod_authz_core's three-valued answer for a tree and a client address: "granted",
    "denied" or "neutral". A negated Require can only deny (a miss is neutral); RequireAll
    denies if any member denies, else grants if any grants; RequireAny grants if any member
    grants, else denies if any denies; RequireNone denies if any member grants."""
    if isinstance(node, str):
        words = node.split()[1:]
        negated = words[0] == "not"
        if negated:
            words = words[1:]
        if words[0] == "all":
            hit = words[1] == "granted"
        else:
            address = ipaddress.ip_address(source)
            hit = any(address in ipaddress.ip_network(ip, strict=False) for ip in words[1:])
        if negated:
            return "denied" if hit else "neutral"
        return "granted" if hit else "denied"
    kind, children = node
    results = [decide(child, source) for child in children]
    if kind == "RequireAll":
        return next((r for r in ("denied", "granted") if r in results), "neutral")
    if kind == "RequireAny":
        return next((r for r in ("granted", "denied") if r in results), "neutral")
    return "denied" if "granted" in results else "neutral"
