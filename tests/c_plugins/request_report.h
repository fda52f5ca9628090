/*
 * What a request_rec says, as one line of name=value pairs: answered by a plugin under
 * geows (request_rec.c) and by a module's handler under httpd (mod_request_report.c),
 * which tests/test_httpd_runtime.py compares.
 */

#ifndef REQUEST_REPORT_H
#define REQUEST_REPORT_H

#include "httpd.h"
#include "http_core.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_tables.h"

static const char *report_or_null(const char *text)
{
    return text != NULL ? text : "NULL";
}

static const char *request_report(request_rec *r)
{
    return apr_psprintf(
        r->pool,
        "method=%s number=%d protocol=%s proto_num=%d the_request=%s uri=%s unparsed_uri=%s "
        "args=%s hostname=%s path=%s query=%s parsed_host=%s parsed_port=%s user=%s "
        "auth_type=%s probe=%s headers=%d client=%s:%d local=%s:%d server=%s:%u port=%u "
        "url=%s scheme=%s time=%s pools=%s",
        r->method, r->method_number, r->protocol, r->proto_num, r->the_request, r->uri,
        r->unparsed_uri, report_or_null(r->args), report_or_null(r->hostname),
        report_or_null(r->parsed_uri.path), report_or_null(r->parsed_uri.query),
        report_or_null(r->parsed_uri.hostname), report_or_null(r->parsed_uri.port_str),
        report_or_null(r->user), report_or_null(r->ap_auth_type),
        report_or_null(apr_table_get(r->headers_in, "x-probe")),
        apr_table_elts(r->headers_in)->nelts, r->useragent_ip, r->useragent_addr->port,
        r->connection->local_ip, r->connection->local_addr->port,
        r->server->server_hostname, r->server->port, ap_get_server_port(r),
        ap_construct_url(r->pool, r->uri, r), ap_http_scheme(r),
        apr_time_now() - r->request_time < apr_time_from_sec(60) ? "recent" : "wrong",
        apr_pool_parent_get(r->pool) == r->connection->pool ? "nested" : "apart");
}

#endif /* REQUEST_REPORT_H */
