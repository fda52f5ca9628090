/* ap_battery.h run by httpd itself: `apache2 -t` runs its test_config hook, which
   prints the answers on stderr between BATTERY-BEGIN and BATTERY-END. */

#include <stdio.h>

#include "ap_battery.h"

static void battery_test_config(apr_pool_t *pconf, server_rec *s)
{
    (void)s;
    fprintf(stderr, "BATTERY-BEGIN\n%sBATTERY-END\n", ap_battery(pconf));
}

static void battery_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_test_config(battery_test_config, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA ap_battery_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, battery_hooks, 0
};
