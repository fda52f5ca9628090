"""httpd's directive table against httpd: for every module Debian's apache2 ships that
declares directives, one of them without and with its LoadModule (and the modules its
.load depends on), misspellings, wrong contexts and a directive before its LoadModule:
`geows -t` gives `apache2 -t`'s verdict, at the same line.

The exceptions are the modules geows builds in (geows.config.declared.GEOWS_BUILT_IN: it
acts on their directives without LoadModule, as it did before it checked them): without
their LoadModule httpd refuses and geows accepts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from geows.config.declared import GEOWS_BUILT_IN, MODULES, MPMS, STATIC
from tests.httpd import harness

MODS = Path("/etc/apache2/mods-available")
PRELUDE = ("LoadModule {mpm}_module {modules}/mod_{mpm}.so\n"
           "LoadModule websocket_module {standin}\nServerName main.test\n"
           "ErrorLog /dev/null\nListen 127.0.0.1:1\n")

# One directive of each module, with arguments httpd accepts, and where it may appear
# ("dir": inside a <Location>); found by trying candidates on apache2 -t.
SAMPLES = {
    "access_compat_module": ("Satisfy all", "dir"),
    "actions_module": ("Action x y", "anywhere"),
    "alias_module": ("AliasPreservePath On", "anywhere"),
    "allowmethods_module": ("AllowMethods GET", "dir"),
    "auth_basic_module": ("AuthBasicAuthoritative On", "dir"),
    "auth_digest_module": ("AuthDigestDomain On", "dir"),
    "auth_form_module": ("AuthFormAuthoritative On", "dir"),
    "authn_anon_module": ("Anonymous On", "dir"),
    "authn_core_module": ("AuthName On", "dir"),
    "authn_dbd_module": ("AuthDBDUserPWQuery On", "dir"),
    "authn_dbm_module": ("AuthDBMType On", "dir"),
    "authn_file_module": ("AuthUserFile On", "dir"),
    "authn_socache_module": ("AuthnCacheContext On", "dir"),
    "authnz_fcgi_module": ("AuthnzFcgiCheckAuthnProvider On", "anywhere"),
    "authnz_ldap_module": ("AuthLDAPAuthorizePrefix On", "dir"),
    "authz_core_module": ("AuthMerging Off", "dir"),
    "authz_dbd_module": ("AuthzDBDLoginToReferer On", "dir"),
    "authz_dbm_module": ("AuthDBMGroupFile On", "dir"),
    "authz_groupfile_module": ("AuthGroupFile On", "dir"),
    "autoindex_module": ("AddAlt x y", "anywhere"),
    "brotli_module": ("BrotliCompressionQuality On", "server"),
    "buffer_module": ("BufferSize 1", "dir"),
    "cache_disk_module": ("CacheDirLength 1", "server"),
    "cache_module": ("CacheDefaultExpire On", "anywhere"),
    "cache_socache_module": ("CacheSocacheMaxTime On", "anywhere"),
    "cern_meta_module": ("MetaDir On", "anywhere"),
    "cgi_module": ("CGIScriptTimeout 1", "anywhere"),
    "cgid_module": ("CGIDScriptTimeout 1", "anywhere"),
    "charset_lite_module": ("CharsetDefault On", "anywhere"),
    "dav_fs_module": ("DAVLockDB On", "server"),
    "dav_lock_module": ("DavGenericLockDB /tmp/davlock", "dir"),
    "dav_module": ("DAV Off", "dir"),
    "dbd_module": ("DBDExptime 1", "server"),
    "deflate_module": ("DeflateBufferSize 1", "server"),
    "dialup_module": ("ModemStandard V.92", "dir"),
    "dir_module": ("DirectoryCheckHandler On", "anywhere"),
    "dumpio_module": ("DumpIOInput On", "server"),
    "echo_module": ("ProtocolEcho On", "server"),
    "env_module": ("PassEnv On", "anywhere"),
    "expires_module": ("ExpiresActive On", "anywhere"),
    "ext_filter_module": ("ExtFilterDefine On", "server"),
    "file_cache_module": ("cachefile On", "server"),
    "filter_module": ("FilterChain On", "anywhere"),
    "headers_module": ("Header set X-A 1", "anywhere"),
    "heartbeat_module": ("HeartbeatAddress 239.0.0.1:27999", "server"),
    "heartmonitor_module": ("HeartbeatMaxServers On", "server"),
    "http2_module": ("H2CopyFiles On", "anywhere"),
    "ident_module": ("IdentityCheck On", "anywhere"),
    "imagemap_module": ("ImapBase On", "anywhere"),
    "include_module": ("SSIEndTag On", "server"),
    "info_module": ("AddModuleInfo x y", "server"),
    "lbmethod_heartbeat_module": ("HeartbeatStorage On", "server"),
    "ldap_module": ("LDAPCacheEntries On", "server"),
    "log_debug_module": ("LogMessage On", "anywhere"),
    "log_forensic_module": ("ForensicLog On", "server"),
    "lua_module": ("LuaAuthzProvider x y z", "server"),
    "macro_module": ("MacroIgnoreBadNesting On", "anywhere"),
    "md_module": ("MDActivationDelay 1", "server"),
    "mime_magic_module": ("MimeMagicFile On", "server"),
    "mime_module": ("AddCharset x y", "anywhere"),
    "negotiation_module": ("CacheNegotiatedDocs On", "server"),
    "proxy_connect_module": ("AllowCONNECT 1", "server"),
    "proxy_express_module": ("ProxyExpressDBMFile On", "anywhere"),
    "proxy_fcgi_module": ("ProxyFCGIBackendType GENERIC", "dir"),
    "proxy_ftp_module": ("ProxyFtpDirCharset On", "anywhere"),
    "proxy_hcheck_module": ("ProxyHCTPsize On", "server"),
    "proxy_html_module": ("ProxyHTMLBufSize 1", "anywhere"),
    "proxy_module": ("BalancerGrowth On", "server"),
    "proxy_scgi_module": ("ProxySCGIInternalRedirect On", "anywhere"),
    "proxy_wstunnel_module": ("ProxyWebsocketFallbackToProxyHttp On", "anywhere"),
    "reflector_module": ("ReflectorHeader On", "anywhere"),
    "remoteip_module": ("RemoteIPHeader On", "server"),
    "reqtimeout_module": ("RequestReadTimeout header=20", "server"),
    "request_module": ("KeptBodySize 1", "dir"),
    "rewrite_module": ("RewriteCond x y", "anywhere"),
    "sed_module": ("InputSed x", "dir"),
    "session_cookie_module": ("SessionCookieName On", "anywhere"),
    "session_crypto_module": ("SessionCryptoCipher On", "anywhere"),
    "session_dbd_module": ("SessionDBDCookieName On", "anywhere"),
    "session_module": ("Session On", "anywhere"),
    "setenvif_module": ("BrowserMatch x y", "anywhere"),
    "socache_memcache_module": ("MemcacheConnTTL 1", "server"),
    "socache_redis_module": ("RedisConnPoolTTL 1", "server"),
    "speling_module": ("CheckBasenameMatch On", "anywhere"),
    "ssl_module": ("SSLCACertificatePath /tmp", "anywhere"),
    "substitute_module": ("Substitute ServerName", "anywhere"),
    "suexec_module": ("SuexecUserGroup www-data www-data", "server"),
    "userdir_module": ("UserDir On", "server"),
    "usertrack_module": ("CookieExpires 1", "anywhere"),
    "vhost_alias_module": ("VirtualScriptAlias /tmp", "server"),
    "xml2enc_module": ("xml2EncAlias x y", "server"),
}

# mod_dav_lock needs mod_dav, which its .load does not say.
DEPENDS = {"dav_lock": ["dav"]}
# httpd refuses this module's only directive here for a reason of its own (its handler
# looks for /usr/lib/apache2/suexec): loaded, geows accepts it, and httpd does not say
# "Invalid command".
REFUSED_BY_HANDLER = {"suexec_module"}

# Each file's body (after the prelude) and the MPM its prelude loads.
CASES = [
    # misspellings
    ("<Location /ws>\nSetHandler websocket-handler\nWebSocketHandler plugins/any.py a_init\n"
     "WebSocketOrginCheck Same\n</Location>", "mpm_event"),
    ("<Location /t>\nRequre all denied\n</Location>", "mpm_event"),
    ("ExpiresActiv On\nLoadModule expires_module {modules}/mod_expires.so", "mpm_event"),
    ("<Location /t>\nSetHandlr None\n</Location>", "mpm_event"),
    # wrong contexts: geows' own directives, core's and a loaded module's
    ("<Location /t>\nListen 80\n</Location>", "mpm_event"),
    ("<Location /t>\nKeepAlive On\n</Location>", "mpm_event"),
    ("<Location /t>\nServerAdmin a@b\n</Location>", "mpm_event"),
    ("Options None", "mpm_event"),
    ("LoadModule echo_module {modules}/mod_echo.so\n<Location /t>\nProtocolEcho On\n"
     "</Location>", "mpm_event"),
    ("LoadModule dav_module {modules}/mod_dav.so\nDAV On", "mpm_event"),
    ("LoadModule cache_module {modules}/mod_cache.so\n"
     "LoadModule cache_disk_module {modules}/mod_cache_disk.so\n<Directory /tmp>\n"
     "CacheDirLength 1\n</Directory>", "mpm_event"),
    # a directive before its LoadModule: httpd loads every module before running the rest
    ("ExpiresActive On\nLoadModule expires_module {modules}/mod_expires.so", "mpm_event"),
    # an MPM's directives: only the loaded MPM's
    ("MaxSpareServers 5", "mpm_event"), ("MaxSpareServers 5", "mpm_prefork"),
    ("AsyncRequestWorkerFactor 2", "mpm_prefork"), ("AsyncRequestWorkerFactor 2", "mpm_event"),
    ("ThreadsPerChild 5", "mpm_worker"), ("ThreadsPerChild 5", "mpm_prefork"),
]


def load_lines(module: str) -> str:
    """The LoadModule lines of the module's .load file and, first, of those it depends on."""
    by_module = {}
    for path in sorted(MODS.glob("*.load")):
        text = path.read_text()
        by_module.update({name: path.stem for name in
                          re.findall(r"^\s*LoadModule\s+(\S+)", text, re.MULTILINE)})
    lines: list[str] = []

    def add(stem: str) -> None:
        text = (MODS / f"{stem}.load").read_text()
        depends = re.search(r"^# Depends:(.*)$", text, re.MULTILINE)
        for dependency in [*(depends[1].split() if depends else ()), *DEPENDS.get(stem, ())]:
            add(dependency)
        lines.extend(line for line in re.findall(r"^\s*LoadModule .*$", text, re.MULTILINE)
                     if line not in lines)

    add(by_module[module])
    return "\n".join(lines)


def body(line: str, where: str) -> str:
    return f"<Location /t>\n{line}\n</Location>" if where == "dir" else line


def refused_line(output: str) -> int | None:
    """The line httpd (`Syntax error on line N of`) or geows (`FILE:N:`) refused."""
    m = re.search(r"Syntax error on line ([0-9]+) of|\.conf:([0-9]+): ", output)
    return int(m[1] or m[2]) if m else None


def test_samples_cover_every_module_with_directives():
    declaring = {name for name, source in MODULES.items() if source is not None}
    assert set(SAMPLES) == declaring - STATIC - MPMS


@pytest.mark.skipif(not MODS.is_dir(), reason="/etc/apache2 not installed")
def test_geows_gives_httpds_verdict_on_every_module(lab, tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins/any.py").write_text("def a_init():\n    return None\n")
    # (conf, what it tests, whether geows is expected to accept where httpd does not)
    files = []
    for module, (line, where) in sorted(SAMPLES.items()):
        files.append((body(line, where), "mpm_event", f"{module} without LoadModule",
                      module in GEOWS_BUILT_IN))
        files.append((f"{load_lines(module)}\n{body(line, where)}", "mpm_event",
                      f"{module} loaded", module in REFUSED_BY_HANDLER))
    files += [(text, mpm, text.replace("\n", " | "), False) for text, mpm in CASES]
    jobs = []
    for n, (text, mpm, _, _) in enumerate(files):
        conf = tmp_path / f"d{n}.conf"
        conf.write_text(PRELUDE.format(mpm=mpm, modules=harness.MODULES, standin=lab.standin)
                        + text.format(modules=harness.MODULES) + "\n")
        jobs.append((conf, tmp_path, lab.env))
    start = time.monotonic()
    geows = harness.geows_check_all(jobs)
    disagree, agree = [], 0
    for (conf, _, _), (_, _, what, geows_accepts), ours in zip(jobs, files, geows, strict=True):
        httpd = harness.httpd_check(conf, tmp_path, lab.env)
        if geows_accepts:
            same = not httpd.ok and ours.ok and (
                ("Invalid command" in httpd.output) == ("without" in what))
        else:
            same = httpd.ok == ours.ok and refused_line(httpd.output) == refused_line(
                ours.output)
        if same:
            agree += 1
        else:
            disagree.append(f"{what}:\n  httpd: {httpd.output}\n  geows: {ours.output}")
    print(f"{len(files)} files, {len(SAMPLES)} modules, {agree} agree, "
          f"{time.monotonic() - start:.1f}s")
    assert not disagree, "\n".join(disagree)
