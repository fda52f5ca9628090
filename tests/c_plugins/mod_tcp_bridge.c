/*
 * A TCP bridge, as public plugin modules bridge WebSocket clients to VNC or MQTT servers:
 * a module whose TcpBridgeBackend directive (host:port, per directory) names the backend;
 * each accepted connection gets its own apr_socket_t to it, made in r->pool. A client's
 * message goes to the backend as it is; what the backend sends comes back as binary
 * messages from an APR thread of the connection's own; the backend's end closes the
 * WebSocket. A location without a backend refuses connections.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_network_io.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "websocket_plugin.h"

APLOG_USE_MODULE(tcp_bridge);

module AP_MODULE_DECLARE_DATA tcp_bridge_module;

typedef struct {
    const char *host;
    apr_port_t port;
} bridge_config;

typedef struct {
    const WebSocketServer *server;
    apr_socket_t *socket;
    apr_thread_t *pump;
    volatile int ending;
} bridge;

static void *create_dir(apr_pool_t *p, char *path)
{
    (void)path;
    return apr_pcalloc(p, sizeof(bridge_config));
}

static const char *set_backend(cmd_parms *cmd, void *config_, const char *arg)
{
    bridge_config *config = config_;
    char *host, *scope;
    if (apr_parse_addr_port(&host, &scope, &config->port, arg, cmd->pool) != APR_SUCCESS
            || host == NULL || config->port == 0)
        return apr_psprintf(cmd->pool, "%s: '%s' is not host:port", cmd->cmd->name, arg);
    config->host = host;
    return NULL;
}

static const command_rec bridge_commands[] = {
    AP_INIT_TAKE1("TcpBridgeBackend", set_backend, NULL, ACCESS_CONF,
                  "the backend's host:port"),
    {NULL}
};

module AP_MODULE_DECLARE_DATA tcp_bridge_module = {
    STANDARD20_MODULE_STUFF, create_dir, NULL, NULL, NULL, bridge_commands, NULL, 0
};

/* The backend's bytes to the client until the backend closes (or on_disconnect shuts
   the socket down). */
static void *APR_THREAD_FUNC pump(apr_thread_t *thread, void *data)
{
    bridge *b = data;
    char buffer[4096];
    for (;;) {
        apr_size_t length = sizeof(buffer);
        apr_status_t status = apr_socket_recv(b->socket, buffer, &length);
        if (length > 0)
            b->server->send(b->server, MESSAGE_TYPE_BINARY, (unsigned char *)buffer, length);
        if (status != APR_SUCCESS)
            break;
    }
    if (!b->ending)
        b->server->close(b->server);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    bridge_config *config;
    apr_sockaddr_t *address;
    apr_status_t status;
    bridge *b;
    if (r == NULL)
        return NULL;
    config = ap_get_module_config(r->per_dir_config, &tcp_bridge_module);
    if (config == NULL || config->host == NULL)
        return NULL;
    b = apr_pcalloc(r->pool, sizeof(*b));
    b->server = server;
    status = apr_sockaddr_info_get(&address, config->host, APR_UNSPEC, config->port, 0,
                                   r->pool);
    if (status == APR_SUCCESS)
        status = apr_socket_create(&b->socket, address->family, SOCK_STREAM, APR_PROTO_TCP,
                                   r->pool);
    if (status == APR_SUCCESS)
        status = apr_socket_connect(b->socket, address);
    if (status == APR_SUCCESS)
        status = apr_thread_create(&b->pump, NULL, pump, b, r->pool);
    if (status != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, status, r, "tcp bridge: no backend %s:%d",
                      config->host, config->port);
        return NULL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "tcp bridge: %s to %s:%d", r->uri,
                  config->host, config->port);
    return b;
}

static size_t CALLBACK on_message(void *private, const WebSocketServer *server,
                                  const int type, unsigned char *buffer, const size_t size)
{
    bridge *b = private;
    apr_size_t sent = 0;
    (void)server;
    (void)type;
    while (sent < size) {
        apr_size_t length = size - sent;
        if (apr_socket_send(b->socket, (const char *)buffer + sent, &length) != APR_SUCCESS)
            break;
        sent += length;
    }
    return sent;
}

static void CALLBACK on_disconnect(void *private, const WebSocketServer *server)
{
    bridge *b = private;
    apr_status_t ended;
    (void)server;
    b->ending = 1;
    apr_socket_shutdown(b->socket, APR_SHUTDOWN_READWRITE);
    apr_thread_join(&ended, b->pump);
    apr_socket_close(b->socket);
}

static WebSocketPlugin plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, on_connect, on_message,
    on_disconnect
};

WebSocketPlugin *CALLBACK tcp_bridge_init(void)
{
    return &plugin;
}
