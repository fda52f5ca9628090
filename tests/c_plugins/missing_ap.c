/* A plugin that calls an ap_* function geows' httpd runtime does not provide (ap_rputs,
   inline in http_protocol.h, calls ap_rwrite: a response body, which a WebSocket handshake
   never has): refused at its WebSocketHandler line, before it is loaded. */

#include "httpd.h"
#include "http_protocol.h"

#include "websocket_plugin.h"

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    ap_rputs("never", r);
    return r;
}

static size_t CALLBACK on_message(void *private, const WebSocketServer *server, const int type,
                                  unsigned char *buffer, const size_t size)
{
    (void)private, (void)server, (void)type, (void)buffer;
    return size;
}

static WebSocketPlugin plugin = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
                                 on_connect, on_message, NULL};

EXPORT WebSocketPlugin *CALLBACK missing_ap_init(void)
{
    return &plugin;
}
