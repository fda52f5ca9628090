/*
 * Echo: every message goes back to its sender with the type it came with.
 *
 *     <Location /c/echo>
 *       SetHandler websocket-handler
 *       WebSocketHandler plugins/c/echo.so echo_init
 *     </Location>
 */

#include "websocket_plugin.h"

static size_t CALLBACK echo_on_message(void *plugin_private, const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size)
{
    (void)plugin_private;
    return server->send(server, type, buffer, buffer_size);
}

static WebSocketPlugin echo_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL,             /* destroy */
    NULL,             /* on_connect: accept everyone */
    echo_on_message,
    NULL              /* on_disconnect */
};

EXPORT WebSocketPlugin *CALLBACK echo_init(void)
{
    return &echo_plugin;
}
