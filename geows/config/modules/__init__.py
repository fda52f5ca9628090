"""The directives of httpd.conf, one file per httpd module that declares them, as httpd
keeps one command table per module: each file holds its module's table (DIRECTIVES), the
parsers of their arguments, and a class of handlers, `_<directive>` methods that the reader
(config/reader.py, which inherits them all) calls by name. core.py: server names, limits,
DocumentRoot, LogLevel; mpm.py: Listen and the processes; mod_alias, mod_proxy,
mod_log_config (with core's ErrorLog), mod_ssl, mod_websocket (with core's SetHandler);
access.py: the access modules' directives and AllowOverride.
"""
