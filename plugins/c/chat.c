/*
 * Chat: every message goes to everyone connected to the same location, its
 * sender included, with the type it came with.
 *
 *     <Location /c/chat>
 *       SetHandler websocket-handler
 *       WebSocketHandler plugins/c/chat.so chat_init
 *     </Location>
 */

#include <pthread.h>
#include <stdlib.h>

#include "websocket_plugin.h"

typedef struct Member {
    const WebSocketServer *server;
    struct Member *prev, *next;
} Member;

static pthread_mutex_t room_mutex = PTHREAD_MUTEX_INITIALIZER;
static Member *room;  /* every open connection, under room_mutex */

static void *CALLBACK chat_on_connect(const WebSocketServer *server)
{
    Member *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->server = server;
    pthread_mutex_lock(&room_mutex);
    m->next = room;
    if (room != NULL)
        room->prev = m;
    room = m;
    pthread_mutex_unlock(&room_mutex);
    return m;
}

static size_t CALLBACK chat_on_message(void *plugin_private, const WebSocketServer *server,
                                       const int type, unsigned char *buffer,
                                       const size_t buffer_size)
{
    Member *m;
    (void)plugin_private;
    (void)server;

    /* Held across the sends, so that every member sees the messages in one order. */
    pthread_mutex_lock(&room_mutex);
    for (m = room; m != NULL; m = m->next)
        m->server->send(m->server, type, buffer, buffer_size);
    pthread_mutex_unlock(&room_mutex);
    return 0;
}

static void CALLBACK chat_on_disconnect(void *plugin_private, const WebSocketServer *server)
{
    Member *m = plugin_private;
    (void)server;

    pthread_mutex_lock(&room_mutex);
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        room = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    pthread_mutex_unlock(&room_mutex);
    free(m);
}

static WebSocketPlugin chat_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL,
    chat_on_connect,
    chat_on_message,
    chat_on_disconnect
};

EXPORT WebSocketPlugin *CALLBACK chat_init(void)
{
    return &chat_plugin;
}
