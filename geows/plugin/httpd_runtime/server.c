/*
 * What a request says of its server, as httpd answers with UseCanonicalName Off
 * (its default): the name and port the client asked for, else the server's.
 */

#include "runtime.h"

#include "apr_file_info.h"
#include "apr_strings.h"
#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"

AP_DECLARE(char *) ap_server_root_relative(apr_pool_t *p, const char *fname)
{
    char *path = NULL;
    if (apr_filepath_merge(&path, ap_server_root, fname, APR_FILEPATH_TRUENAME, p)
            != APR_SUCCESS)
        return NULL;
    return path;
}

/* mod_ssl's answer where the connection is TLS (it sets HTTPS=on), else core's. */
AP_DECLARE(const char *) ap_run_http_scheme(const request_rec *r)
{
    if (r->server->server_scheme != NULL)
        return r->server->server_scheme;
    return apr_table_get(r->subprocess_env, "HTTPS") != NULL ? "https" : "http";
}

AP_DECLARE(apr_port_t) ap_run_default_port(const request_rec *r)
{
    return strcmp(ap_run_http_scheme(r), "https") == 0 ? 443 : 80;
}

AP_DECLARE(const char *) ap_get_server_name(request_rec *r)
{
    return r->hostname != NULL ? r->hostname : r->server->server_hostname;
}

AP_DECLARE(const char *) ap_get_server_name_for_url(request_rec *r)
{
    const char *name = ap_get_server_name(r);
    if (name != NULL && strchr(name, ':') != NULL)  /* an IPv6 literal */
        return apr_pstrcat(r->pool, "[", name, "]", NULL);
    return name;
}

AP_DECLARE(apr_port_t) ap_get_server_port(const request_rec *r)
{
    if (r->parsed_uri.port_str != NULL)
        return r->parsed_uri.port;
    return r->server->port != 0 ? r->server->port : ap_run_default_port(r);
}

AP_DECLARE(char *) ap_construct_url(apr_pool_t *p, const char *uri, request_rec *r)
{
    apr_port_t port = ap_get_server_port(r);
    const char *host = ap_get_server_name_for_url(r);
    if (port == ap_run_default_port(r))
        return apr_pstrcat(p, ap_run_http_scheme(r), "://", host, uri, NULL);
    return apr_psprintf(p, "%s://%s:%u%s", ap_run_http_scheme(r), host, port, uri);
}

/* HostnameLookups Off: the client's address, never a name looked up. */
AP_DECLARE(const char *) ap_get_remote_host(conn_rec *conn, void *dir_config, int type,
                                            int *str_is_ip)
{
    (void)dir_config;
    if (str_is_ip != NULL)
        *str_is_ip = 0;
    if (conn->remote_host != NULL && conn->remote_host[0] != '\0')
        return conn->remote_host;
    if (type == REMOTE_HOST || type == REMOTE_DOUBLE_REV)
        return NULL;
    if (str_is_ip != NULL)
        *str_is_ip = 1;
    return conn->client_ip;
}

AP_DECLARE(const char *) ap_get_server_banner(void)
{
    return "geows";
}

AP_DECLARE(const char *) ap_get_server_description(void)
{
    return "geows (httpd runtime for plugins)";
}
