/*
 * Dumb increment: a server that talks first. Each connection gets a counter
 * as text, "0", "1", "2"..., one every 50 ms from a thread of its own; the
 * message "reset\n" starts it again from 0. The client must offer the
 * subprotocol dumb-increment-protocol; others are refused.
 *
 *     <Location /c/dumb-increment>
 *       SetHandler websocket-handler
 *       WebSocketHandler plugins/c/dumb_increment.so dumb_increment_init
 *     </Location>
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "websocket_plugin.h"

#define PROTOCOL "dumb-increment-protocol"
#define INTERVAL_NS 50000000L

typedef struct {
    const WebSocketServer *server;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;   /* signalled to stop the thread before its next tick */
    int stopping;
    int reset;             /* set by on_message, applied by the thread */
    unsigned long counter; /* the thread's alone */
} Counter;

static void *counter_run(void *arg)
{
    Counter *c = arg;
    char text[32];

    pthread_mutex_lock(&c->mutex);
    while (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += INTERVAL_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        /* Wait out the interval, or less if on_disconnect asks us to stop. */
        while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->mutex, &until) == 0) {
        }
        if (c->stopping)
            break;
        if (c->reset) {
            c->reset = 0;
            c->counter = 0;
        }
        int length = snprintf(text, sizeof(text), "%lu", c->counter);
        /* Not under the mutex: a send may wait for a slow client. */
        pthread_mutex_unlock(&c->mutex);
        size_t sent = c->server->send(c->server, MESSAGE_TYPE_TEXT,
                                      (const unsigned char *)text, (size_t)length);
        pthread_mutex_lock(&c->mutex);
        if (sent > 0)
            c->counter++;  /* else not open yet: send the same number next tick */
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

static void *CALLBACK dumb_increment_on_connect(const WebSocketServer *server)
{
    size_t count = server->protocol_count(server);
    size_t i;

    for (i = 0; i < count; i++) {
        const char *offered = server->protocol_index(server, i);
        if (offered != NULL && strcmp(offered, PROTOCOL) == 0)
            break;
    }
    if (i == count)
        return NULL;  /* 403: a client that does not speak it would not understand us */
    server->protocol_set(server, PROTOCOL);

    Counter *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->server = server;
    pthread_mutex_init(&c->mutex, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, counter_run, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->mutex);
        free(c);
        return NULL;
    }
    return c;
}

static size_t CALLBACK dumb_increment_on_message(void *plugin_private,
                                                 const WebSocketServer *server,
                                                 const int type, unsigned char *buffer,
                                                 const size_t buffer_size)
{
    Counter *c = plugin_private;
    (void)server;

    if (type == MESSAGE_TYPE_TEXT && buffer_size == 6 && memcmp(buffer, "reset\n", 6) == 0) {
        pthread_mutex_lock(&c->mutex);
        c->reset = 1;
        pthread_mutex_unlock(&c->mutex);
    }
    return 0;
}

static void CALLBACK dumb_increment_on_disconnect(void *plugin_private,
                                                  const WebSocketServer *server)
{
    Counter *c = plugin_private;
    (void)server;

    pthread_mutex_lock(&c->mutex);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mutex);
    /* The server pointer is ours until we return: the thread must be gone first. */
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->mutex);
    free(c);
}

static WebSocketPlugin dumb_increment_plugin = {
    sizeof(WebSocketPlugin),
    WEBSOCKET_PLUGIN_VERSION_0,
    NULL,
    dumb_increment_on_connect,
    dumb_increment_on_message,
    dumb_increment_on_disconnect
};

EXPORT WebSocketPlugin *CALLBACK dumb_increment_init(void)
{
    return &dumb_increment_plugin;
}
