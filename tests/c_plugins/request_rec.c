/*
 * A plugin that reads its handshake from r, as httpd modules do, and logs with
 * ap_log_rerror. Built without -lapr-1: APR, like the ap_* functions, comes from
 * geows' httpd runtime, as it came from httpd for a module built with apxs.
 *
 * "report" answers what r says (request_report.h, which a module under httpd answers
 * too); on_connect allocates 64 KiB from r->pool (a pool
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

#include "request_report.h"
#include "websocket_plugin.h"

#include <string.h>

#define BALLAST (64 * 1024)

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
                  report_or_null(r->user));
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
        report = apr_psprintf(r->pool, "%s same=%s", request_report(r),
                              server->request(server) == r ? "yes" : "no");
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
