/*
 * A plugin that reads its handshake from r, as httpd modules do, and logs with
 * ap_log_rerror. Built without -lapr-1: APR, like the ap_* functions, comes from
 * geows' httpd runtime, as it came from httpd for a module built with apxs.
 *
 * "report" answers what r says; on_connect allocates 64 KiB from r->pool (a pool
 * that is not destroyed shows in the worker's RSS), sets a response header and a
 * note (writes to the request must harm nothing), and logs a line at info (shown
 * at LogLevel info) and one at debug (not shown). Its init function registers a
 * child_init hook.
 */

#include "httpd.h"
#include "http_log.h"
#include "http_config.h"
#include "http_core.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "websocket_plugin.h"

#include <string.h>

#define BALLAST (64 * 1024)

static const char *or_null(const char *text)
{
    return text != NULL ? text : "NULL";
}

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    char *ballast;
    if (r == NULL)
        return NULL;
    ballast = apr_palloc(r->pool, BALLAST);
    memset(ballast, 'x', BALLAST);  /* touched: it counts in RSS */
    apr_table_set(r->headers_out, "X-Ignored", "by geows");
    apr_table_set(r->notes, "seen", "yes");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "request_rec: %s from %s", r->the_request,
                  or_null(r->user));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "request_rec: a debug line");
    return r;
}

static size_t CALLBACK on_message(void *private, const WebSocketServer *server, const int type,
                                  unsigned char *buffer, const size_t size)
{
    request_rec *r = private;
    const char *report;
    (void)type;
    if (size == 6 && memcmp(buffer, "report", 6) == 0) {
        /* from the request's pool, as long as the connection lives */
        report = apr_psprintf(
            r->pool,
            "method=%s number=%d protocol=%s the_request=%s uri=%s unparsed_uri=%s args=%s "
            "hostname=%s path=%s query=%s user=%s probe=%s headers=%d same=%s "
            "client=%s:%d local=%s:%d server=%s:%u port=%u url=%s time=%s pools=%s",
            r->method, r->method_number, r->protocol, r->the_request, r->uri,
            r->unparsed_uri, or_null(r->args), or_null(r->hostname),
            or_null(r->parsed_uri.path), or_null(r->parsed_uri.query), or_null(r->user),
            or_null(apr_table_get(r->headers_in, "x-probe")),
            apr_table_elts(r->headers_in)->nelts,
            server->request(server) == r ? "yes" : "no",
            r->useragent_ip, r->useragent_addr->port, r->connection->local_ip,
            r->connection->local_addr->port, r->server->server_hostname, r->server->port,
            ap_get_server_port(r), ap_construct_url(r->pool, r->uri, r),
            apr_time_now() - r->request_time < apr_time_from_sec(60) ? "recent" : "wrong",
            apr_pool_parent_get(r->pool) == r->connection->pool ? "nested" : "apart");
        server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)report, strlen(report));
    }
    else if (size == 4 && memcmp(buffer, "warn", 4) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, APR_ENOENT, r, "request_rec: warned %s",
                      r->uri);
        server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)"warned", 6);
    }
    return 0;
}

static WebSocketPlugin plugin = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
                                 on_connect, on_message, NULL};

/* A hook as a plugin module registers one: accepted and logged, never run. */
static void child_init(apr_pool_t *pchild, server_rec *s)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "request_rec: child_init ran (%p)",
                 (void *)pchild);
}

EXPORT WebSocketPlugin *CALLBACK request_rec_init(void)
{
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    return &plugin;
}
