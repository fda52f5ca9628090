/*
 * httpd's log functions, into geows' error log: the line is made here as httpd's
 * default ErrorLogFormat makes its message part (the source's file(line) at debug
 * and trace levels, "(status)reason: ", "[client ip:port] ", the message, ", referer: "
 * for a request), and geows' logging adds the stamp, [:level] and pid, and escapes it
 * as httpd does. LogLevel applies: the ap_log_* macros compare the level with the
 * server's (server_rec.log.level, set from LogLevel) before calling here, and geows'
 * logging compares it again.
 */

#include "runtime.h"

#include <stdio.h>
#include <string.h>

#include "apr_strings.h"
#include "http_log.h"

/* httpd's own limit for one message (MAX_STRING_LEN); longer ones are cut. */
#define LINE_MAX_BYTES 8192

/* A source file as httpd names it in a line: without its directories. */
static const char *source_name(const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash != NULL ? slash + 1 : file;
}

static void log_line(const char *file, int line, int module_index, int level,
                     apr_status_t status, const char *client_ip,
                     const apr_sockaddr_t *client_addr,
                     const request_rec *r, const char *fmt, va_list args)
{
    char text[LINE_MAX_BYTES];
    size_t used = 0;
    const char *referer;
    level &= APLOG_LEVELMASK;
    if (geows_log_to == NULL)
        return;
    if (level >= APLOG_DEBUG && file != NULL)
        used += snprintf(text + used, sizeof(text) - used, "%s(%d): ", source_name(file),
                         line);
    if (status != APR_SUCCESS && used < sizeof(text)) {
        char reason[256];
        apr_strerror(status, reason, sizeof(reason));
        used += snprintf(text + used, sizeof(text) - used, "(%d)%s: ", status, reason);
    }
    if (client_ip != NULL && used < sizeof(text))
        used += snprintf(text + used, sizeof(text) - used, "[client %s:%d] ", client_ip,
                         client_addr != NULL ? client_addr->port : 0);
    if (used < sizeof(text))
        used += apr_vsnprintf(text + used, sizeof(text) - used, fmt, args);
    if (r != NULL && (referer = apr_table_get(r->headers_in, "Referer")) != NULL
            && used < sizeof(text))
        snprintf(text + used, sizeof(text) - used, ", referer: %s", referer);
    /* A plugin module's short name ([foo:level]); "" for a module httpd does not know
       (APLOG_NO_MODULE, or a plugin that is no module), which it prints as [:level]. */
    geows_log_to(level, geows_module_short_name(module_index), text);
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index, int level,
                               apr_status_t status, const server_rec *s, const char *fmt, ...)
{
    va_list args;
    (void)s;
    va_start(args, fmt);
    log_line(file, line, module_index, level, status, NULL, NULL, NULL, fmt, args);
    va_end(args);
}

AP_DECLARE(void) ap_log_perror_(const char *file, int line, int module_index, int level,
                                apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
    va_list args;
    (void)p;
    va_start(args, fmt);
    log_line(file, line, module_index, level, status, NULL, NULL, NULL, fmt, args);
    va_end(args);
}

AP_DECLARE(void) ap_log_rerror_(const char *file, int line, int module_index, int level,
                                apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    if (r != NULL)
        log_line(file, line, module_index, level, status, r->useragent_ip,
                 r->useragent_addr, r, fmt, args);
    else  /* a plugin's bug, logged rather than crashed on */
        log_line(file, line, module_index, level, status, NULL, NULL, NULL, fmt, args);
    va_end(args);
}

AP_DECLARE(void) ap_log_cerror_(const char *file, int line, int module_index, int level,
                                apr_status_t status, const conn_rec *c, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    log_line(file, line, module_index, level, status, c != NULL ? c->client_ip : NULL,
             c != NULL ? c->client_addr : NULL, NULL, fmt, args);
    va_end(args);
}

AP_DECLARE(void) ap_log_cserror_(const char *file, int line, int module_index, int level,
                                 apr_status_t status, const conn_rec *c, const server_rec *s,
                                 const char *fmt, ...)
{
    va_list args;
    (void)s;
    va_start(args, fmt);
    log_line(file, line, module_index, level, status, c != NULL ? c->client_ip : NULL,
             c != NULL ? c->client_addr : NULL, NULL, fmt, args);
    va_end(args);
}

/* The levels the ap_log_* macros compare with (http_config.h's macros, these
   functions for plugins built with AP_DEBUG): the server's LogLevel; geows keeps
   no per-module levels in the records, its logging applies LogLevel's module
   settings to the line. */
#undef ap_get_server_module_loglevel
#undef ap_get_conn_module_loglevel
#undef ap_get_conn_server_module_loglevel
#undef ap_get_request_module_loglevel

static int level_of(const struct ap_logconf *log, int index)
{
    if (index < 0 || log->module_levels == NULL || log->module_levels[index] < 0)
        return log->level;
    return log->module_levels[index];
}

AP_DECLARE(int) ap_get_server_module_loglevel(const server_rec *s, int index)
{
    return level_of(&s->log, index);
}

AP_DECLARE(int) ap_get_conn_module_loglevel(const conn_rec *c, int index)
{
    return level_of(c->log != NULL ? c->log : &c->base_server->log, index);
}

AP_DECLARE(int) ap_get_conn_server_module_loglevel(const conn_rec *c, const server_rec *s,
                                                   int index)
{
    return level_of(c->log != NULL ? c->log : &s->log, index);
}

AP_DECLARE(int) ap_get_request_module_loglevel(const request_rec *r, int index)
{
    return level_of(r->log != NULL ? r->log : &r->server->log, index);
}
