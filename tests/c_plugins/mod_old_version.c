/* A plugin module built for another httpd: its module struct says an older major
   version (httpd 2.2's), so LoadModule refuses it, geows as httpd. */

#include "httpd.h"
#include "http_config.h"

#include "websocket_plugin.h"

module AP_MODULE_DECLARE_DATA old_version_module = {
    20051115, 0, -1, __FILE__, NULL, NULL, MODULE_MAGIC_COOKIE, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, 0
};

static WebSocketPlugin plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, NULL, NULL
};

WebSocketPlugin *CALLBACK old_version_init(void)
{
    return &plugin;
}
