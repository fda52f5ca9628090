/*
 * websocket_plugin.h - the C plugin interface geows serves, binary-compatible
 * with the plugins Apache mod_websocket loaded: a plugin built for the module
 * loads unchanged (WebSocketHandler path/to/plugin.so init_function), and its
 * source compiles unchanged against this header.
 *
 * A plugin exports one function, named on the WebSocketHandler line, that
 * returns a WebSocketPlugin. geows calls it once per line, at configuration
 * time (geows -t too), and refuses the line if it returns NULL, a version
 * other than WEBSOCKET_PLUGIN_VERSION_0, a size under sizeof(WebSocketPlugin)
 * or no on_message.
 *
 * Threads: on_connect, on_message and on_disconnect run in an OS thread of a
 * pool (one call at a time per connection), so they may block as they could
 * under Apache. send and close may be called from any thread, the plugin's
 * own included, until on_disconnect has returned; after that the server
 * pointer must not be used. So may geows' extension below (rooms and
 * broadcasts: geows_join, geows_leave, geows_broadcast_room), which a plugin
 * built against this header may call under mod_websocket too: there the
 * functions find no extension and answer 0.
 *
 * Build: cc -shared -fPIC -O2 -Wall -Wextra -pthread -o plugin.so plugin.c
 */

#ifndef GEOWS_WEBSOCKET_PLUGIN_H
#define GEOWS_WEBSOCKET_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Calling convention and export of the plugin's functions. */
#ifndef CALLBACK
#ifdef _WIN32
#define CALLBACK __stdcall
#else
#define CALLBACK
#endif
#endif

#ifndef EXPORT
#ifdef _WIN32
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif
#endif

/* Message types, for on_message and send. */
#define MESSAGE_TYPE_TEXT   0    /* UTF-8 text */
#define MESSAGE_TYPE_BINARY 128  /* bytes */
#define MESSAGE_TYPE_CLOSE  255  /* send: start the closing handshake */
#define MESSAGE_TYPE_PING   256  /* RFC 6455 only; nothing is sent on draft-76 */
#define MESSAGE_TYPE_PONG   257

#define WEBSOCKET_SERVER_VERSION_1 1
#define WEBSOCKET_PLUGIN_VERSION_0 0

/*
 * Apache's request record: include httpd.h (apache2-dev) to read it; geows'
 * httpd runtime gives it httpd 2.4's layout. Only named here, unless the plugin
 * already included httpd.h (a plugin that includes httpd.h after this header
 * repeats the typedef: fine in C11, a -pedantic warning in C99).
 */
#ifndef APACHE_HTTPD_H
typedef struct request_rec request_rec;
#endif

struct _WebSocketState;
typedef struct _WebSocketServer WebSocketServer;
typedef struct _WebSocketPlugin WebSocketPlugin;

/* One connection, as the server offers it to the plugin. */
struct _WebSocketServer {
    unsigned int size;    /* sizeof(WebSocketServer); under geows, sizeof(GeowsServer) */
    unsigned int version; /* WEBSOCKET_SERVER_VERSION_1 */
    struct _WebSocketState *state; /* the server's own: do not touch */

    /* Apache's request record for the handshake; its pool lives until
       on_disconnect has returned. Under geows NULL only if its httpd runtime is
       not built (the error log says so). */
    struct request_rec *(CALLBACK *request)(const WebSocketServer *server);
    /* A request header's value, NULL if absent; valid for the connection's life. */
    const char *(CALLBACK *header_get)(const WebSocketServer *server, const char *key);
    /* Set a response header of the handshake, replacing one of that name;
       in on_connect only. */
    void (CALLBACK *header_set)(const WebSocketServer *server, const char *key,
                                const char *value);
    /* How many subprotocols the client offered. */
    size_t (CALLBACK *protocol_count)(const WebSocketServer *server);
    /* The index-th offered subprotocol (from 0), NULL past the end; valid for
       the connection's life. */
    const char *(CALLBACK *protocol_index)(const WebSocketServer *server, const size_t index);
    /* Answer this subprotocol (one the client offered; NULL for none) instead
       of the first offered; in on_connect only. */
    void (CALLBACK *protocol_set)(const WebSocketServer *server, const char *protocol);
    /* Send one message; returns the bytes sent, 0 if the connection is not
       open any more or the call is refused (the error log says why). Sent
       before the handshake is answered (in on_connect, or by a thread it
       started), the message is held and goes right after the 101, in order. */
    size_t (CALLBACK *send)(const WebSocketServer *server, const int type,
                            const unsigned char *buffer, const size_t buffer_size);
    /* Start the closing handshake. */
    void (CALLBACK *close)(const WebSocketServer *server);
};

/* What the plugin's init function returns. */
struct _WebSocketPlugin {
    unsigned int size;    /* sizeof(WebSocketPlugin) */
    unsigned int version; /* WEBSOCKET_PLUGIN_VERSION_0 */

    /* Once, when the server stops; may be NULL. */
    void (CALLBACK *destroy)(WebSocketPlugin *plugin);
    /* Before the handshake is answered: returns the connection's private
       pointer, or NULL to refuse it (403). May be NULL: every connection is
       then accepted, with a NULL private pointer. */
    void *(CALLBACK *on_connect)(const WebSocketServer *server);
    /* One whole message (TEXT: UTF-8, not NUL-terminated by contract though
       geows adds a NUL after it). The return value is ignored. Required. */
    size_t (CALLBACK *on_message)(void *plugin_private, const WebSocketServer *server,
                                  const int type, unsigned char *buffer,
                                  const size_t buffer_size);
    /* Once for every accepted connection, however it ends; may be NULL. */
    void (CALLBACK *on_disconnect)(void *plugin_private, const WebSocketServer *server);
};

/*
 * geows' extension: rooms and broadcasts. The server pointer a plugin gets
 * points, under geows, at a GeowsServer: the module's WebSocketServer first,
 * unchanged, then geows' callbacks; its `size` field says so (mod_websocket's
 * says sizeof(WebSocketServer)). Call the geows_* functions rather than the
 * callbacks: they look at `size` first.
 *
 * A room is a name within the plugin's location (UTF-8, not empty, at most
 * GEOWS_ROOM_NAME_MAX bytes), made by its first member and gone with its last;
 * its members are the location's connections that joined it, in every worker
 * (and, with WebSocketBroadcast, every host). A connection leaves its rooms
 * once on_disconnect has returned. They may be called from any thread, in
 * order with that thread's sends, until on_disconnect has returned.
 */
#define GEOWS_ROOM_NAME_MAX 255

/* The header compiles as C89 too: inline and long long are spelled for it. */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define GEOWS_INLINE static inline
#elif defined(_MSC_VER)
#define GEOWS_INLINE static __inline
#else
#define GEOWS_INLINE static __inline__
#endif

/* A broadcast's sequence number (geows_on_broadcast_gap). */
#ifdef __GNUC__
__extension__ typedef unsigned long long geows_seq_t;
#else
typedef unsigned long long geows_seq_t;
#endif

typedef struct _GeowsServer GeowsServer;

/* What the server pointer points at under geows: the module's struct, then
   geows' callbacks. */
struct _GeowsServer {
    WebSocketServer server;  /* the module's struct, unchanged */

    /* Join a room: 1, or 0 if refused (a bad name, the connection ended; the
       error log says why). */
    int (CALLBACK *join)(const WebSocketServer *server, const char *room);
    /* Leave a room (nothing happens if the connection is no member): 1, or 0
       if refused (a bad name). */
    int (CALLBACK *leave)(const WebSocketServer *server, const char *room);
    /* Send one message to every open connection of the location (room NULL)
       or to the room's members, in every worker, without waiting on a slow
       reader (one that does not read is closed, 1008); returns how many of
       this worker's connections were open (or members) when it was handed
       over, 0 if refused (the error log says why). */
    size_t (CALLBACK *broadcast)(const WebSocketServer *server, const int type,
                                 const unsigned char *buffer, const size_t buffer_size,
                                 const char *room);
};

/* Whether the server's struct holds GeowsServer's `field` (never under
   mod_websocket): a later geows may add fields after it, and an older one
   lacks them. */
#define GEOWS_OFFERS(server, field) \
    ((server)->size >= offsetof(GeowsServer, field) + sizeof(((GeowsServer *)0)->field))

GEOWS_INLINE int geows_join(const WebSocketServer *server, const char *room)
{
    return GEOWS_OFFERS(server, join) ? ((const GeowsServer *)server)->join(server, room) : 0;
}

GEOWS_INLINE int geows_leave(const WebSocketServer *server, const char *room)
{
    return GEOWS_OFFERS(server, leave) ? ((const GeowsServer *)server)->leave(server, room) : 0;
}

/* room NULL: the whole location. */
GEOWS_INLINE size_t geows_broadcast_room(const WebSocketServer *server, const int type,
                                          const unsigned char *buffer,
                                          const size_t buffer_size, const char *room)
{
    return GEOWS_OFFERS(server, broadcast)
        ? ((const GeowsServer *)server)->broadcast(server, type, buffer, buffer_size, room)
        : 0;
}

/*
 * Optional: a plugin library that exports this function is told of
 * broadcasts lost for good (WebSocketBroadcast: Redis lost them and its
 * history no longer holds them), once per range of sequence numbers
 * first..last, for each location (its name, e.g. "<Location /chat>") one of
 * its plugins serves; in an OS thread of the pool, after the error log said
 * so. A plugin may tell its clients to resync.
 */
EXPORT void CALLBACK geows_on_broadcast_gap(const char *location, geows_seq_t first,
                                            geows_seq_t last);

#ifdef __cplusplus
}
#endif

#endif /* GEOWS_WEBSOCKET_PLUGIN_H */
