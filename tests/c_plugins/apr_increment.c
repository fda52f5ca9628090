/*
 * A dumb increment in the seed's style, on APR: its state and mutex come from
 * r->pool, its pusher is an apr_thread_create'd thread that sleeps with apr_sleep,
 * and "reset\n" restarts the counter. Refuses a connection that does not offer
 * "dumb-increment-protocol". Built with -lapr-1, as a plugin for the module was.
 */

#include "httpd.h"
#include "apr_thread_proc.h"
#include "apr_thread_mutex.h"
#include "apr_time.h"
#include "apr_strings.h"

#include "websocket_plugin.h"

#include <stdio.h>
#include <string.h>

#define PROTOCOL "dumb-increment-protocol"

typedef struct {
    const WebSocketServer *server;
    apr_thread_mutex_t *mutex;
    apr_thread_t *thread;
    int counter;
    volatile int active;
} Counter;

static void *APR_THREAD_FUNC push(apr_thread_t *thread, void *data)
{
    Counter *counter = data;
    char text[16];
    while (counter->active) {
        int length;
        apr_thread_mutex_lock(counter->mutex);
        length = snprintf(text, sizeof(text), "%d", counter->counter++);
        apr_thread_mutex_unlock(counter->mutex);
        counter->server->send(counter->server, MESSAGE_TYPE_TEXT, (unsigned char *)text,
                              (size_t)length);
        apr_sleep(apr_time_from_msec(20));
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    Counter *counter;
    size_t n, count;
    if (r == NULL)
        return NULL;
    count = server->protocol_count(server);
    for (n = 0; n < count; n++)
        if (strcmp(server->protocol_index(server, n), PROTOCOL) == 0)
            break;
    if (n == count)
        return NULL;
    server->protocol_set(server, PROTOCOL);
    counter = apr_pcalloc(r->pool, sizeof(*counter));
    counter->server = server;
    counter->active = 1;
    if (apr_thread_mutex_create(&counter->mutex, APR_THREAD_MUTEX_DEFAULT, r->pool)
            != APR_SUCCESS
            || apr_thread_create(&counter->thread, NULL, push, counter, r->pool) != APR_SUCCESS)
        return NULL;
    return counter;
}

static size_t CALLBACK on_message(void *private, const WebSocketServer *server, const int type,
                                  unsigned char *buffer, const size_t size)
{
    Counter *counter = private;
    (void)server;
    if (type == MESSAGE_TYPE_TEXT && size == 6 && memcmp(buffer, "reset\n", 6) == 0) {
        apr_thread_mutex_lock(counter->mutex);
        counter->counter = 0;
        apr_thread_mutex_unlock(counter->mutex);
    }
    return 0;
}

static void CALLBACK on_disconnect(void *private, const WebSocketServer *server)
{
    Counter *counter = private;
    apr_status_t status;
    (void)server;
    counter->active = 0;
    apr_thread_join(&status, counter->thread);
}

static WebSocketPlugin plugin = {sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL,
                                 on_connect, on_message, on_disconnect};

EXPORT WebSocketPlugin *CALLBACK apr_increment_init(void)
{
    return &plugin;
}
