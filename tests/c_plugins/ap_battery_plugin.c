/* ap_battery.h run by geows' httpd runtime: "battery" answers it, from r->pool. */

#include <string.h>

#include "ap_battery.h"
#include "websocket_plugin.h"

static size_t CALLBACK on_message(void *private, const WebSocketServer *server, const int type,
                                  unsigned char *buffer, const size_t size)
{
    request_rec *r = server->request(server);
    const char *answer = ap_battery(r->pool);
    (void)private, (void)type, (void)buffer, (void)size;
    return server->send(server, MESSAGE_TYPE_BINARY, (const unsigned char *)answer,
                        strlen(answer));
}

static WebSocketPlugin plugin = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
                                 NULL, on_message, NULL};

EXPORT WebSocketPlugin *CALLBACK ap_battery_init(void)
{
    return &plugin;
}
