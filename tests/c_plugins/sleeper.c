/*
 * Sleeps 1 s in every on_message, then echoes: a plugin that blocks as it could under
 * Apache. It imports usleep, so geows runs its calls in threads (tests/test_c_calls.py).
 */

#include <unistd.h>

#include "websocket_plugin.h"

static size_t CALLBACK sleeper_on_message(void *plugin_private, const WebSocketServer *server,
                                          const int type, unsigned char *buffer,
                                          const size_t buffer_size)
{
    (void)plugin_private;
    usleep(1000000);
    return server->send(server, type, buffer, buffer_size);
}

static WebSocketPlugin sleeper_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, sleeper_on_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK sleeper_init(void)
{
    return &sleeper_plugin;
}
