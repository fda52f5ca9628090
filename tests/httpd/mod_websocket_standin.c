/*
 * A stand-in for mod_websocket that httpd can load, so `apache2 -t` checks the module's
 * directives as the real module does, and a running httpd reports which WebSocket
 * configuration wins for a request. Written for geows' differential tests from the module's
 * documented behaviour:
 *
 * - module websocket_module (mod_websocket.c);
 * - WebSocketHandler takes two arguments, MaxMessageSize one, SupportDraft75 is a flag;
 *   all three are OR_AUTHCFG: <Directory>/<Location> sections and .htaccess with
 *   AllowOverride AuthConfig, never the server or <VirtualHost> level;
 * - MaxMessageSize is read with apr_atoi64 and must come out above zero;
 * - the per-directory config is created only for a directory-like section (a NULL path
 *   gets none) and the module has no merge function, so the last section that uses any of
 *   its directives replaces the whole config.
 *
 * The real module loads the plugin when it reads WebSocketHandler; geows' plugins are
 * Python, so the stand-in only records the path. Its handler answers a request for which
 * "websocket-handler" is the handler with an X-WebSocket header naming the plugin, the
 * init function, the size limit and the draft-75 flag, and declines otherwise, as the
 * module does when no plugin is configured.
 *
 * With STANDIN_PLUGINS=1 in httpd's environment (tests/test_plugin_modules.py,
 * tests/test_c_plugins_apache.py), a location whose WebSocketHandler names a .so runs
 * that C plugin as mod_websocket runs one, for RFC 6455 handshakes: the library loaded
 * once per process, its init function called, its on_connect given a WebSocketServer
 * (request, header_get/set, the subprotocol calls, send from any thread, close) and
 * refusing with 403 by returning NULL, its on_message given
 * each unfragmented text or binary message, its on_disconnect called once the connection
 * ends. Pings are answered; fragments, extensions and draft-76 are not handled. The
 * connection is read and written under the connection's lock, as httpd's filters serve
 * one thread at a time: a frame is read whole once its first byte is there.
 *
 * THIS IS A TEST DOUBLE, not mod_websocket. When httpd runs with STANDIN_ECHO=1 in its
 * environment (tests/test_migration_walkthrough.py), a WebSocket handshake to such a
 * location is answered instead, whatever the plugin: RFC 6455 (Sec-WebSocket-Accept from
 * SHA-1 and base64) or draft-76 (the MD5 of key1's and key2's numbers and key3), with the
 * same X-WebSocket header on the 101, then every message is echoed until either side closes. Written from RFC 6455 and
 * draft-ietf-hybi-thewebsocketprotocol-00 (draft-76); no extensions, no subprotocols, no
 * draft-75, messages up to ECHO_MAX bytes per frame.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_log.h"
#include "http_core.h"
#include "util_filter.h"
#include "apr_strings.h"
#include "apr_base64.h"
#include "apr_md5.h"
#include "apr_sha1.h"
#include "apr_dso.h"
#include "apr_hash.h"
#include "apr_thread_mutex.h"

#include "websocket_plugin.h"

#include <stdlib.h>

module AP_MODULE_DECLARE_DATA websocket_module;

typedef struct {
    const char *plugin;     /* ServerRoot-relative path resolved, or NULL */
    const char *init;
    apr_int64_t max_message_size;
    int support_draft75;
} standin_config;

static void *standin_create_dir_config(apr_pool_t *p, char *path)
{
    standin_config *conf;

    if (path == NULL) {
        return NULL;
    }
    conf = apr_pcalloc(p, sizeof(*conf));
    conf->max_message_size = 32 * 1024 * 1024;
    return conf;
}

static const char *standin_set_handler(cmd_parms *cmd, void *dirconf,
                                       const char *plugin, const char *init)
{
    standin_config *conf = dirconf;

    if (conf == NULL) {
        return "Invalid parameters";
    }
    conf->plugin = ap_server_root_relative(cmd->pool, plugin);
    conf->init = init;
    return NULL;
}

static const char *standin_set_max_message_size(cmd_parms *cmd, void *dirconf,
                                                const char *size)
{
    standin_config *conf = dirconf;
    apr_int64_t value;

    (void)cmd;
    if (conf == NULL) {
        return "Invalid parameter";
    }
    value = apr_atoi64(size);
    if (value <= 0) {
        return "Invalid maximum message size";
    }
    conf->max_message_size = value;
    return NULL;
}

static const char *standin_set_draft75(cmd_parms *cmd, void *dirconf, int on)
{
    standin_config *conf = dirconf;

    (void)cmd;
    if (conf == NULL) {
        return "Invalid parameter";
    }
    conf->support_draft75 = on;
    return NULL;
}

/* The echo: raw bytes on the connection once the 101 has gone out. */

#define ECHO_MAX (1 << 20)
#define RFC6455_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct {
    conn_rec *c;
    apr_bucket_brigade *bb;
} wire;

/* Read exactly n bytes; 0 on success, -1 when the connection ends or fails first. */
static int wire_read(wire *w, unsigned char *buf, apr_size_t n)
{
    apr_size_t got = 0;

    while (got < n) {
        apr_size_t len = n - got;

        apr_brigade_cleanup(w->bb);
        if (ap_get_brigade(w->c->input_filters, w->bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                           len) != APR_SUCCESS
            || apr_brigade_flatten(w->bb, (char *)buf + got, &len) != APR_SUCCESS
            || len == 0) {
            return -1;
        }
        got += len;
    }
    return 0;
}

static int wire_write(wire *w, const void *data, apr_size_t n)
{
    apr_brigade_cleanup(w->bb);
    if (ap_fwrite(w->c->output_filters, w->bb, data, n) != APR_SUCCESS
        || ap_fflush(w->c->output_filters, w->bb) != APR_SUCCESS) {
        return -1;
    }
    return 0;
}

/* A server frame's head (RFC 6455 section 5.2: unmasked) for `first` (FIN and opcode)
 * and a payload of len bytes, in head[10]; its length. */
static apr_size_t frame_head(unsigned char *head, int first, apr_uint64_t len)
{
    apr_size_t i;

    head[0] = (unsigned char)first;
    if (len < 126) {
        head[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        head[1] = 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
        return 4;
    }
    head[1] = 127;
    for (i = 0; i < 8; i++) {
        head[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    }
    return 10;
}

/* RFC 6455 section 5.2: echo text, binary and continuation frames as they came (so a
 * fragmented message comes back fragmented), answer pings, answer a close and stop. */
static void echo_rfc6455(wire *w, apr_pool_t *p)
{
    unsigned char *payload = apr_palloc(p, ECHO_MAX);
    unsigned char head[14], mask[4];

    for (;;) {
        apr_uint64_t len;
        apr_size_t i, used;
        int opcode;

        if (wire_read(w, head, 2) != 0) {
            return;
        }
        opcode = head[0] & 0x0F;
        len = head[1] & 0x7F;
        if (!(head[1] & 0x80)) {
            return;                 /* a client's frames are masked (5.1) */
        }
        if (len == 126 || len == 127) {
            unsigned char ext[8];
            apr_size_t size = len == 126 ? 2 : 8;

            if (wire_read(w, ext, size) != 0) {
                return;
            }
            len = 0;
            for (i = 0; i < size; i++) {
                len = (len << 8) | ext[i];
            }
        }
        if (len > ECHO_MAX || wire_read(w, mask, 4) != 0
            || wire_read(w, payload, (apr_size_t)len) != 0) {
            return;
        }
        for (i = 0; i < len; i++) {
            payload[i] ^= mask[i % 4];
        }
        /* The answer: same FIN and opcode (a ping's is a pong), unmasked. */
        used = frame_head(head, (head[0] & 0x80) | (opcode == 0x9 ? 0xA : opcode), len);
        if (opcode == 0xA) {
            continue;               /* an unsolicited pong needs no answer */
        }
        if (wire_write(w, head, used) != 0 || wire_write(w, payload, (apr_size_t)len) != 0
            || opcode == 0x8) {
            return;                 /* after a close, our close echoes its status code */
        }
    }
}

/* draft-76 section 4.2: 0x00 text 0xFF frames are echoed; 0xFF 0x00 is the closing
 * handshake, answered in kind. Any other frame type ends the connection. */
static void echo_draft76(wire *w, apr_pool_t *p)
{
    unsigned char *frame = apr_palloc(p, ECHO_MAX + 2);
    apr_size_t len;

    for (;;) {
        if (wire_read(w, frame, 1) != 0) {
            return;
        }
        if (frame[0] == 0xFF) {
            if (wire_read(w, frame + 1, 1) == 0 && frame[1] == 0x00) {
                wire_write(w, "\xFF\x00", 2);
            }
            return;
        }
        if (frame[0] != 0x00) {
            return;
        }
        for (len = 1; len < ECHO_MAX + 2; len++) {
            if (wire_read(w, frame + len, 1) != 0) {
                return;
            }
            if (frame[len] == 0xFF) {
                break;
            }
        }
        if (len == ECHO_MAX + 2 || wire_write(w, frame, len + 1) != 0) {
            return;
        }
    }
}

/* draft-76 section 5.2 step 4: the key's digits as a number, divided by its spaces. */
static int draft76_key_number(const char *key, apr_uint32_t *out)
{
    apr_uint64_t digits = 0;
    unsigned spaces = 0;

    for (; *key; key++) {
        if (*key >= '0' && *key <= '9') {
            digits = digits * 10 + (apr_uint64_t)(*key - '0');
            if (digits > 0xFFFFFFFFu) {
                return -1;
            }
        }
        else if (*key == ' ') {
            spaces++;
        }
    }
    if (spaces == 0 || digits % spaces != 0) {
        return -1;
    }
    *out = (apr_uint32_t)(digits / spaces);
    return 0;
}

static int header_has_token(request_rec *r, const char *name, const char *token)
{
    const char *value = apr_table_get(r->headers_in, name);

    return value != NULL && ap_find_token(r->pool, value, token);
}

/* A WebSocket handshake for this request: answer it and echo, then end the connection.
 * DECLINED when the request is no handshake (the report answers it). */
static int standin_echo(request_rec *r, const char *report)
{
    const char *key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    const char *key1 = apr_table_get(r->headers_in, "Sec-WebSocket-Key1");
    const char *key2 = apr_table_get(r->headers_in, "Sec-WebSocket-Key2");
    wire w;

    if (r->method_number != M_GET || !header_has_token(r, "Upgrade", "websocket")
        || !header_has_token(r, "Connection", "upgrade") || (key == NULL && key1 == NULL)) {
        return DECLINED;
    }
    w.c = r->connection;
    w.bb = apr_brigade_create(r->pool, w.c->bucket_alloc);
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(r->status);
    apr_table_clear(r->headers_out);
    apr_table_setn(r->headers_out, "X-WebSocket", report);
    if (key != NULL) {                                  /* RFC 6455 section 4.2.2 */
        unsigned char sha1[APR_SHA1_DIGESTSIZE];
        char *accept = apr_palloc(r->pool, apr_base64_encode_len(sizeof(sha1)));
        apr_sha1_ctx_t ctx;

        apr_sha1_init(&ctx);
        apr_sha1_update(&ctx, key, (unsigned int)strlen(key));
        apr_sha1_update(&ctx, RFC6455_GUID, (unsigned int)strlen(RFC6455_GUID));
        apr_sha1_final(sha1, &ctx);
        apr_base64_encode(accept, (const char *)sha1, sizeof(sha1));
        apr_table_setn(r->headers_out, "Upgrade", "websocket");
        apr_table_setn(r->headers_out, "Connection", "Upgrade");
        apr_table_setn(r->headers_out, "Sec-WebSocket-Accept", accept);
        ap_send_interim_response(r, 1);
        echo_rfc6455(&w, r->pool);
    }
    else {                                              /* draft-76 section 5.2 */
        unsigned char challenge[16], answer[APR_MD5_DIGESTSIZE];
        const char *origin = apr_table_get(r->headers_in, "Origin");
        const char *host = apr_table_get(r->headers_in, "Host");
        apr_uint32_t n1, n2;
        int i;

        if (key2 == NULL || host == NULL || draft76_key_number(key1, &n1) != 0
            || draft76_key_number(key2, &n2) != 0) {
            return HTTP_BAD_REQUEST;
        }
        for (i = 0; i < 4; i++) {
            challenge[i] = (unsigned char)(n1 >> (24 - 8 * i));
            challenge[4 + i] = (unsigned char)(n2 >> (24 - 8 * i));
        }
        if (wire_read(&w, challenge + 8, 8) != 0) {    /* key3 follows the head */
            return HTTP_BAD_REQUEST;
        }
        apr_md5(answer, challenge, sizeof(challenge));
        apr_table_setn(r->headers_out, "Upgrade", "WebSocket");
        apr_table_setn(r->headers_out, "Connection", "Upgrade");
        if (origin != NULL) {
            apr_table_setn(r->headers_out, "Sec-WebSocket-Origin", origin);
        }
        apr_table_setn(r->headers_out, "Sec-WebSocket-Location",
                       apr_pstrcat(r->pool, "ws://", host, r->unparsed_uri, NULL));
        ap_send_interim_response(r, 1);
        if (wire_write(&w, answer, sizeof(answer)) == 0) {
            echo_draft76(&w, r->pool);
        }
    }
    /* The connection spoke WebSocket: nothing more goes out on it. */
    w.c->keepalive = AP_CONN_CLOSE;
    w.c->aborted = 1;
    return OK;
}

/* C plugins (STANDIN_PLUGINS=1): as mod_websocket runs them. */

struct _WebSocketState {
    request_rec *r;
    wire w;                     /* reads and writes, under the lock */
    apr_thread_mutex_t *lock;   /* sends come from the plugin's threads too */
    const char *protocol;
    int closed;
};

static request_rec *CALLBACK plugin_request(const WebSocketServer *server)
{
    return server->state->r;
}

static const char *CALLBACK plugin_header_get(const WebSocketServer *server, const char *key)
{
    return apr_table_get(server->state->r->headers_in, key);
}

static void CALLBACK plugin_header_set(const WebSocketServer *server, const char *key,
                                       const char *value)
{
    apr_table_setn(server->state->r->headers_out, apr_pstrdup(server->state->r->pool, key),
                   apr_pstrdup(server->state->r->pool, value));
}

/* The offered subprotocols, split at commas. */
static apr_array_header_t *offered(request_rec *r)
{
    apr_array_header_t *list = apr_array_make(r->pool, 4, sizeof(char *));
    const char *value = apr_table_get(r->headers_in, "Sec-WebSocket-Protocol");
    char *last, *token, *copy = value != NULL ? apr_pstrdup(r->pool, value) : NULL;
    for (token = copy ? apr_strtok(copy, ", ", &last) : NULL; token != NULL;
         token = apr_strtok(NULL, ", ", &last))
        *(char **)apr_array_push(list) = token;
    return list;
}

static size_t CALLBACK plugin_protocol_count(const WebSocketServer *server)
{
    return (size_t)offered(server->state->r)->nelts;
}

static const char *CALLBACK plugin_protocol_index(const WebSocketServer *server,
                                                  const size_t index)
{
    apr_array_header_t *list = offered(server->state->r);
    return index < (size_t)list->nelts ? ((char **)list->elts)[index] : NULL;
}

static void CALLBACK plugin_protocol_set(const WebSocketServer *server, const char *protocol)
{
    server->state->protocol = protocol ? apr_pstrdup(server->state->r->pool, protocol) : NULL;
}

static size_t CALLBACK plugin_send(const WebSocketServer *server, const int type,
                                   const unsigned char *buffer, const size_t buffer_size)
{
    struct _WebSocketState *state = server->state;
    unsigned char head[10];
    int opcode = type == MESSAGE_TYPE_TEXT ? 0x1 : type == MESSAGE_TYPE_BINARY ? 0x2
        : type == MESSAGE_TYPE_CLOSE ? 0x8 : type == MESSAGE_TYPE_PING ? 0x9 : 0xA;
    apr_size_t used = frame_head(head, 0x80 | opcode, buffer_size);
    size_t sent = 0;
    apr_thread_mutex_lock(state->lock);
    if (!state->closed && wire_write(&state->w, head, used) == 0
            && (buffer_size == 0 || wire_write(&state->w, buffer, buffer_size) == 0))
        sent = buffer_size;
    apr_thread_mutex_unlock(state->lock);
    return sent;
}

static void CALLBACK plugin_close(const WebSocketServer *server)
{
    plugin_send(server, MESSAGE_TYPE_CLOSE, (const unsigned char *)"", 0);
}

/* Each library once per process; its plugin struct by library and init function. */
static WebSocketPlugin *load_plugin(request_rec *r, const standin_config *conf)
{
    static apr_hash_t *plugins;
    const char *key = apr_pstrcat(r->pool, conf->plugin, " ", conf->init, NULL);
    WebSocketPlugin *plugin;
    apr_dso_handle_t *dso = NULL;
    apr_dso_handle_sym_t init;
    apr_pool_t *pool = r->server->process->pool;
    if (plugins == NULL)
        plugins = apr_hash_make(pool);
    plugin = apr_hash_get(plugins, key, APR_HASH_KEY_STRING);
    if (plugin != NULL)
        return plugin;
    if (apr_dso_load(&dso, conf->plugin, pool) != APR_SUCCESS
            || apr_dso_sym(&init, dso, conf->init) != APR_SUCCESS) {
        char reason[256];
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "cannot load %s: %s", conf->plugin,
                      apr_dso_error(dso, reason, sizeof(reason)));
        return NULL;
    }
    plugin = ((WebSocketPlugin *(*)(void))init)();
    if (plugin != NULL)
        apr_hash_set(plugins, apr_pstrdup(pool, key), APR_HASH_KEY_STRING, plugin);
    return plugin;
}

/* One client frame (masked) read whole: 1, or 0 when the connection ends or misbehaves. */
static int frame_read(wire *w, unsigned char *head, unsigned char *mask, unsigned char *ext,
                      unsigned char *payload, apr_uint64_t *length)
{
    apr_uint64_t len;
    apr_size_t i, size;
    if (wire_read(w, head, 2) != 0 || !(head[1] & 0x80))
        return 0;
    len = head[1] & 0x7F;
    if (len == 126 || len == 127) {
        size = len == 126 ? 2 : 8;
        if (wire_read(w, ext, size) != 0)
            return 0;
        for (len = 0, i = 0; i < size; i++)
            len = (len << 8) | ext[i];
    }
    if (len > ECHO_MAX || wire_read(w, mask, 4) != 0
            || wire_read(w, payload, (apr_size_t)len) != 0)
        return 0;
    *length = len;
    return 1;
}

/* Whether a frame's first byte can be read now, the lock held (httpd's filters are not
   for two threads at once: the connection is read and written under the lock, as the
   module does); otherwise the socket is waited on without it, a little at a time. */
static int frame_waiting(struct _WebSocketState *state, apr_pollfd_t *socket)
{
    apr_int32_t ready;
    apr_status_t status;
    apr_thread_mutex_lock(state->lock);
    apr_brigade_cleanup(state->w.bb);
    status = ap_get_brigade(state->w.c->input_filters, state->w.bb, AP_MODE_SPECULATIVE,
                            APR_NONBLOCK_READ, 1);
    if (status == APR_SUCCESS && !APR_BRIGADE_EMPTY(state->w.bb))
        return 1;
    apr_thread_mutex_unlock(state->lock);
    if (status != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(status))
        return -1;
    apr_poll(socket, 1, &ready, apr_time_from_msec(20));
    return 0;
}

/* Frames until a close or the connection's end: messages to on_message, pings answered. */
static void plugin_frames(WebSocketServer *server, WebSocketPlugin *plugin, void *private)
{
    unsigned char *payload = apr_palloc(server->state->r->pool, ECHO_MAX + 1);
    unsigned char head[2], mask[4], ext[8];
    apr_pollfd_t socket = {0};
    socket.p = server->state->r->pool;
    socket.desc_type = APR_POLL_SOCKET;
    socket.reqevents = APR_POLLIN;
    socket.desc.s = ap_get_conn_socket(server->state->r->connection);
    for (;;) {
        apr_uint64_t len, i;
        int opcode, waiting = frame_waiting(server->state, &socket), whole;
        if (waiting < 0)
            return;
        if (waiting == 0)
            continue;
        /* the frame's bytes follow its first: read whole under the lock */
        whole = frame_read(&server->state->w, head, mask, ext, payload, &len);
        apr_thread_mutex_unlock(server->state->lock);
        if (!whole)
            return;
        opcode = head[0] & 0x0F;
        for (i = 0; i < len; i++)
            payload[i] ^= mask[i % 4];
        payload[len] = '\0';
        if (opcode == 0x8) {
            plugin_send(server, MESSAGE_TYPE_CLOSE, payload, len >= 2 ? 2 : 0);
            return;
        }
        if (opcode == 0x9)
            plugin_send(server, MESSAGE_TYPE_PONG, payload, (size_t)len);
        else if (opcode == 0x1 || opcode == 0x2)
            plugin->on_message(private, server, opcode == 0x1 ? MESSAGE_TYPE_TEXT
                               : MESSAGE_TYPE_BINARY, payload, (size_t)len);
    }
}

static int standin_plugin(request_rec *r, const standin_config *conf)
{
    const char *key = apr_table_get(r->headers_in, "Sec-WebSocket-Key");
    WebSocketPlugin *plugin = load_plugin(r, conf);
    struct _WebSocketState *state = apr_pcalloc(r->pool, sizeof(*state));
    WebSocketServer *server = apr_pcalloc(r->pool, sizeof(*server));
    unsigned char sha1[APR_SHA1_DIGESTSIZE];
    char *accept;
    apr_sha1_ctx_t ctx;
    void *private;
    if (plugin == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (key == NULL || !header_has_token(r, "Upgrade", "websocket"))
        return HTTP_BAD_REQUEST;
    state->r = r;
    state->w.c = r->connection;
    state->w.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_thread_mutex_create(&state->lock, APR_THREAD_MUTEX_DEFAULT, r->pool);
    *server = (WebSocketServer){sizeof(WebSocketServer), WEBSOCKET_SERVER_VERSION_1, state,
                                plugin_request, plugin_header_get, plugin_header_set,
                                plugin_protocol_count, plugin_protocol_index,
                                plugin_protocol_set, plugin_send, plugin_close};
    /* as the module: on_connect holds the lock, so that the plugin's threads send only
       once the 101 is out */
    apr_thread_mutex_lock(state->lock);
    private = plugin->on_connect != NULL ? plugin->on_connect(server) : NULL;
    if (plugin->on_connect != NULL && private == NULL) {
        apr_thread_mutex_unlock(state->lock);
        return HTTP_FORBIDDEN;
    }
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, key, (unsigned int)strlen(key));
    apr_sha1_update(&ctx, RFC6455_GUID, (unsigned int)strlen(RFC6455_GUID));
    apr_sha1_final(sha1, &ctx);
    accept = apr_palloc(r->pool, apr_base64_encode_len(sizeof(sha1)));
    apr_base64_encode(accept, (const char *)sha1, sizeof(sha1));
    r->status = HTTP_SWITCHING_PROTOCOLS;
    r->status_line = ap_get_status_line(r->status);
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Sec-WebSocket-Accept", accept);
    if (state->protocol != NULL)
        apr_table_setn(r->headers_out, "Sec-WebSocket-Protocol", state->protocol);
    ap_send_interim_response(r, 1);
    apr_thread_mutex_unlock(state->lock);
    plugin_frames(server, plugin, private);
    apr_thread_mutex_lock(state->lock);
    state->closed = 1;
    apr_thread_mutex_unlock(state->lock);
    if (plugin->on_disconnect != NULL)
        plugin->on_disconnect(private, server);
    r->connection->keepalive = AP_CONN_CLOSE;
    r->connection->aborted = 1;
    return OK;
}

static int standin_handler(request_rec *r)
{
    standin_config *conf = ap_get_module_config(r->per_dir_config, &websocket_module);
    const char *echo = getenv("STANDIN_ECHO");
    const char *plugins = getenv("STANDIN_PLUGINS");
    const char *report;

    if (r->handler == NULL || strcmp(r->handler, "websocket-handler") != 0
        || conf == NULL || conf->plugin == NULL) {
        return DECLINED;
    }
    report = apr_psprintf(r->pool, "%s %s %" APR_INT64_T_FMT " %s", conf->plugin,
                          conf->init, conf->max_message_size,
                          conf->support_draft75 ? "on" : "off");
    if (plugins != NULL && strcmp(plugins, "1") == 0
            && ap_strcmp_match(conf->plugin, "*.so") == 0) {
        return standin_plugin(r, conf);
    }
    if (echo != NULL && strcmp(echo, "1") == 0) {
        int done = standin_echo(r, report);

        if (done != DECLINED) {
            return done;
        }
    }
    apr_table_setn(r->headers_out, "X-WebSocket", report);
    ap_set_content_type(r, "text/plain");
    ap_rputs("websocket stand-in\n", r);
    return OK;
}

static void standin_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(standin_handler, NULL, NULL, APR_HOOK_FIRST);
}

static const command_rec standin_commands[] = {
    AP_INIT_TAKE2("WebSocketHandler", standin_set_handler, NULL, OR_AUTHCFG,
                  "the plugin file followed by the name of its initialization function"),
    AP_INIT_TAKE1("MaxMessageSize", standin_set_max_message_size, NULL, OR_AUTHCFG,
                  "the largest message to accept, in bytes"),
    AP_INIT_FLAG("SupportDraft75", standin_set_draft75, NULL, OR_AUTHCFG,
                 "On or Off: accept the draft-75 handshake"),
    {NULL}
};

module AP_MODULE_DECLARE_DATA websocket_module = {
    STANDARD20_MODULE_STUFF,
    standin_create_dir_config,
    NULL,                       /* no merge: the last section's config wins whole */
    NULL,
    NULL,
    standin_commands,
    standin_register_hooks,
    0                           /* flags */
};
