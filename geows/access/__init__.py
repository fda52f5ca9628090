"""Access control as httpd applies it: mod_authz_core, mod_authz_host,
mod_auth_basic with mod_authn_file and mod_authz_user/groupfile,
mod_access_compat and mod_remoteip.

The config reader hands each section's access directives over as AccessLine
records; this package turns them into rules, merges them in httpd's order and
decides each handshake, before any plugin sees it.
"""
