/*
 * early: on_connect sends "on_connect", starts a pthread that sends "tick 0" to
 * "tick 4" at once, and returns only once the thread has sent them all (at most 5 s):
 * every one is sent before the 101, as a pusher's first ticks are; then refuses the
 * connection if the request has an X-Refuse header. Echoes messages; joins its thread in
 * on_disconnect. For tests/test_early_sends.py.
 *
 * early_thread_init is the same pusher written as mod_websocket requires
 * (tests/test_c_plugins_apache.py): the module's send() takes the connection's lock,
 * which on_connect's caller holds, so on_connect neither sends itself nor waits for its
 * thread's sends (either would wait forever); it returns once the thread is about to
 * send its first tick.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "websocket_plugin.h"

typedef struct {
    const WebSocketServer *server;
    pthread_t thread;
    volatile int started;
    volatile int sent;
} Early;

static void *tick(void *arg)
{
    Early *early = arg;
    char text[16];
    int n;
    __atomic_store_n(&early->started, 1, __ATOMIC_RELEASE);
    for (n = 0; n < 5; n++) {
        int length = snprintf(text, sizeof(text), "tick %d", n);
        early->server->send(early->server, MESSAGE_TYPE_TEXT, (unsigned char *)text,
                            (size_t)length);
    }
    __atomic_store_n(&early->sent, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* An Early whose thread ticks, once the thread has sent all its ticks (until_sent) or is
 * about to send its first (at most 5 s); NULL if it could not start. */
static Early *start_ticking(const WebSocketServer *server, int until_sent)
{
    struct timespec pause = {0, 1000000};  /* 1 ms */
    Early *early = calloc(1, sizeof(*early));
    int waits;
    if (early == NULL)
        return NULL;
    early->server = server;
    if (pthread_create(&early->thread, NULL, tick, early) != 0) {
        free(early);
        return NULL;
    }
    for (waits = 0; waits < 5000; waits++) {
        if (__atomic_load_n(until_sent ? &early->sent : &early->started, __ATOMIC_ACQUIRE))
            break;
        nanosleep(&pause, NULL);
    }
    return early;
}

static void *CALLBACK early_connect(const WebSocketServer *server)
{
    Early *early;
    server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)"on_connect", 10);
    early = start_ticking(server, 1);
    if (early != NULL && server->header_get(server, "X-Refuse") != NULL) {
        pthread_join(early->thread, NULL);  /* no on_disconnect follows */
        free(early);
        return NULL;
    }
    return early;
}

static void *CALLBACK early_thread_connect(const WebSocketServer *server)
{
    return start_ticking(server, 0);
}

static size_t CALLBACK early_message(void *private, const WebSocketServer *server,
                                     const int type, unsigned char *buffer, const size_t size)
{
    (void)private;
    return server->send(server, type, buffer, size);
}

static void CALLBACK early_disconnect(void *private, const WebSocketServer *server)
{
    Early *early = private;
    (void)server;
    pthread_join(early->thread, NULL);
    free(early);
}

static WebSocketPlugin early = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, early_connect, early_message,
    early_disconnect
};

static WebSocketPlugin early_thread = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, early_thread_connect,
    early_message, early_disconnect
};

EXPORT WebSocketPlugin *CALLBACK early_init(void)
{
    return &early;
}

EXPORT WebSocketPlugin *CALLBACK early_thread_init(void)
{
    return &early_thread;
}
