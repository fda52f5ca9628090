/* request_report.h answered by httpd: a handler for "request-report" that writes the
   report as the response's body. */

#include "request_report.h"
#include "http_config.h"

#include <string.h>

static int report_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "request-report") != 0)
        return DECLINED;
    ap_set_content_type(r, "text/plain");
    ap_rputs(request_report(r), r);
    return OK;
}

static void report_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(report_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA request_report_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, report_hooks, 0
};
