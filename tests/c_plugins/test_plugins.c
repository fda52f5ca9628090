/*
 * C plugins for tests/test_c_plugins.py, one init function each; built with
 * -I plugins/c against geows' websocket_plugin.h.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "websocket_plugin.h"

static size_t send_text(const WebSocketServer *server, const char *text)
{
    return server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)text, strlen(text));
}

static int is_text(int type, const unsigned char *buffer, size_t size, const char *text)
{
    return type == MESSAGE_TYPE_TEXT && size == strlen(text) && memcmp(buffer, text, size) == 0;
}

static size_t CALLBACK echo_message(void *plugin_private, const WebSocketServer *server,
                                    const int type, unsigned char *buffer, const size_t size)
{
    (void)plugin_private;
    return server->send(server, type, buffer, size);
}

/* gate: lets in only requests with "X-Let-In: yes", and echoes. */

static void *CALLBACK gate_connect(const WebSocketServer *server)
{
    const char *let_in = server->header_get(server, "X-Let-In");
    return let_in != NULL && strcmp(let_in, "yes") == 0 ? (void *)server : NULL;
}

static WebSocketPlugin gate = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, gate_connect, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK gate_init(void)
{
    return &gate;
}

/*
 * api: shows what the server callbacks answer. In on_connect it copies the
 * X-Echo-Me request header to X-Echoed (and sends "early", its result in
 * X-Early-Send), picks the second offered protocol,
 * and tries things the server must refuse; the message "report" describes
 * the callbacks' answers, "misuse" calls the API wrongly, "noise" has four
 * threads call it wrongly at once, "close" closes; anything else is echoed.
 */

static void *CALLBACK api_connect(const WebSocketServer *server)
{
    char early[32];
    const char *echo_me = server->header_get(server, "X-Echo-Me");

    if (echo_me != NULL) {  /* a send before the 101: held, and sent right after it */
        snprintf(early, sizeof(early), "%zu",
                 server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)"early", 5));
        server->header_set(server, "X-Early-Send", early);
        server->header_set(server, "X-Echoed", echo_me);
    }
    server->header_set(server, "X-Replaced", "first");
    server->header_set(server, "X-Replaced", "second");
    server->header_set(server, "X-Bad", "a\r\nX-Injected: 1");  /* refused */
    server->protocol_set(server, "never-offered");              /* refused */
    if (server->protocol_count(server) >= 2)
        server->protocol_set(server, server->protocol_index(server, 1));
    return (void *)server;
}

/* One of the threads "noise" starts: misuse from threads at once, then "done". */
static void *noise_run(void *arg)
{
    const WebSocketServer *server = arg;
    int i;

    for (i = 0; i < 100; i++)
        server->send(server, 7, (const unsigned char *)"x", 1);
    send_text(server, "done");
    return NULL;
}

static const char *or_null(const char *text)
{
    return text != NULL ? text : "NULL";
}

static size_t CALLBACK api_message(void *plugin_private, const WebSocketServer *server,
                                   const int type, unsigned char *buffer, const size_t size)
{
    char text[512];
    (void)plugin_private;

    if (is_text(type, buffer, size, "report")) {
        size_t count = server->protocol_count(server);
        const char *echo_me = server->header_get(server, "X-Echo-Me");
        snprintf(text, sizeof(text),
                 "count=%zu 0=%s 1=%s past-end=%s absent=%s request=%s stable=%s"
                 " size=%u version=%u nul=%s",
                 count, or_null(server->protocol_index(server, 0)),
                 or_null(server->protocol_index(server, 1)),
                 or_null(server->protocol_index(server, count)),
                 or_null(server->header_get(server, "X-Not-Sent")),
                 server->request(server) == NULL ? "NULL" : "set",
                 echo_me == server->header_get(server, "X-Echo-Me") ? "yes" : "no",
                 server->size, server->version, buffer[size] == '\0' ? "yes" : "no");
        send_text(server, text);
    } else if (is_text(type, buffer, size, "misuse")) {
        size_t bad_type = server->send(server, 7, buffer, size);
        size_t bad_text = server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)"\xff\xfe", 2);
        size_t null_buffer = server->send(server, MESSAGE_TYPE_BINARY, NULL, 5);
        const char *null_key = server->header_get(server, NULL);
        server->header_set(server, NULL, "x");
        server->header_set(server, "X-Too-Late", "x");
        server->protocol_set(server, "never-offered");
        snprintf(text, sizeof(text), "survived %zu %zu %zu %s", bad_type, bad_text,
                 null_buffer, or_null(null_key));
        send_text(server, text);
    } else if (is_text(type, buffer, size, "noise")) {
        pthread_t threads[4];
        int i;
        for (i = 0; i < 4; i++)
            pthread_create(&threads[i], NULL, noise_run, (void *)server);
        for (i = 0; i < 4; i++)
            pthread_join(threads[i], NULL);
        send_text(server, "quiet");
    } else if (is_text(type, buffer, size, "close")) {
        server->close(server);
    } else {
        server->send(server, type, buffer, size);
    }
    return 0;
}

static void CALLBACK api_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
    fprintf(stderr, "api plugin destroyed\n");
}

static WebSocketPlugin api = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, api_destroy, api_connect, api_message,
    NULL
};

EXPORT WebSocketPlugin *CALLBACK api_init(void)
{
    return &api;
}

/*
 * pusher: a thread per connection sends a counter every 50 ms; "reset\n"
 * restarts it from 0 and "count" answers "threads=N", how many pusher
 * threads are running, so a test can tell that on_disconnect joined them.
 */

static pthread_mutex_t threads_mutex = PTHREAD_MUTEX_INITIALIZER;
static int threads_running;

typedef struct {
    const WebSocketServer *server;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int stopping, reset;
    unsigned long counter;
} Pusher;

static void *pusher_run(void *arg)
{
    Pusher *p = arg;
    char text[32];

    pthread_mutex_lock(&p->mutex);
    while (!p->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->mutex, &until) == 0) {
        }
        if (p->stopping)
            break;
        if (p->reset) {
            p->reset = 0;
            p->counter = 0;
        }
        snprintf(text, sizeof(text), "%lu", p->counter);
        pthread_mutex_unlock(&p->mutex);
        size_t sent = send_text(p->server, text);
        pthread_mutex_lock(&p->mutex);
        if (sent > 0)
            p->counter++;
    }
    pthread_mutex_unlock(&p->mutex);

    pthread_mutex_lock(&threads_mutex);
    threads_running--;
    pthread_mutex_unlock(&threads_mutex);
    return NULL;
}

static void *CALLBACK pusher_connect(const WebSocketServer *server)
{
    Pusher *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->server = server;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    /* Counted before it starts, so a "count" right after connecting sees it. */
    pthread_mutex_lock(&threads_mutex);
    threads_running++;
    pthread_mutex_unlock(&threads_mutex);
    if (pthread_create(&p->thread, NULL, pusher_run, p) != 0) {
        pthread_mutex_lock(&threads_mutex);
        threads_running--;
        pthread_mutex_unlock(&threads_mutex);
        free(p);
        return NULL;
    }
    return p;
}

static size_t CALLBACK pusher_message(void *plugin_private, const WebSocketServer *server,
                                      const int type, unsigned char *buffer, const size_t size)
{
    Pusher *p = plugin_private;
    char text[32];

    if (is_text(type, buffer, size, "reset\n")) {
        pthread_mutex_lock(&p->mutex);
        p->reset = 1;
        pthread_mutex_unlock(&p->mutex);
    } else if (is_text(type, buffer, size, "count")) {
        pthread_mutex_lock(&threads_mutex);
        snprintf(text, sizeof(text), "threads=%d", threads_running);
        pthread_mutex_unlock(&threads_mutex);
        send_text(server, text);
    }
    return 0;
}

static void CALLBACK pusher_disconnect(void *plugin_private, const WebSocketServer *server)
{
    Pusher *p = plugin_private;
    (void)server;

    pthread_mutex_lock(&p->mutex);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

static void CALLBACK pusher_destroy(WebSocketPlugin *plugin)
{
    (void)plugin;
    pthread_mutex_lock(&threads_mutex);
    fprintf(stderr, "pusher plugin destroyed, threads=%d\n", threads_running);
    pthread_mutex_unlock(&threads_mutex);
}

static WebSocketPlugin pusher = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, pusher_destroy, pusher_connect,
    pusher_message, pusher_disconnect
};

EXPORT WebSocketPlugin *CALLBACK pusher_init(void)
{
    return &pusher;
}

/* Init functions whose answers geows must refuse at configuration time. */

EXPORT WebSocketPlugin *CALLBACK null_init(void)
{
    return NULL;
}

static WebSocketPlugin future = {
    sizeof(WebSocketPlugin), 3, NULL, NULL, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK version_init(void)
{
    return &future;
}

static WebSocketPlugin small = {
    16, WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, echo_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK small_init(void)
{
    return &small;
}

static WebSocketPlugin mute = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, NULL, NULL
};

EXPORT WebSocketPlugin *CALLBACK no_message_init(void)
{
    return &mute;
}
