/*
 * "wait" waits on the plugin's own mutex and condition until another connection sends
 * "release", then answers "released"; "shut" makes the next "wait" wait again (a process
 * that runs its tests twice, as a mutation run does); anything else is echoed. Under Apache the waiting
 * connection's thread waited and no other; so under geows (tests/test_c_calls.py).
 */

#include <pthread.h>
#include <string.h>

#include "websocket_plugin.h"

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;
static int open_gate = 0;

static int is(const unsigned char *buffer, size_t size, const char *word)
{
    return size == strlen(word) && memcmp(buffer, word, size) == 0;
}

static size_t CALLBACK waiter_on_message(void *plugin_private, const WebSocketServer *server,
                                         const int type, unsigned char *buffer,
                                         const size_t buffer_size)
{
    (void)plugin_private;
    if (is(buffer, buffer_size, "wait")) {
        pthread_mutex_lock(&mutex);
        while (!open_gate)
            pthread_cond_wait(&released, &mutex);
        pthread_mutex_unlock(&mutex);
        return server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)"released", 8);
    }
    if (is(buffer, buffer_size, "shut")) {
        pthread_mutex_lock(&mutex);
        open_gate = 0;
        pthread_mutex_unlock(&mutex);
    }
    if (is(buffer, buffer_size, "release")) {
        pthread_mutex_lock(&mutex);
        open_gate = 1;
        pthread_cond_broadcast(&released);
        pthread_mutex_unlock(&mutex);
    }
    return server->send(server, type, buffer, buffer_size);
}

static WebSocketPlugin waiter_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, waiter_on_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK waiter_init(void)
{
    return &waiter_plugin;
}
