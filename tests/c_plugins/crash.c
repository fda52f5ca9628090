/*
 * crash: answers "pid" with its worker's pid, echoes anything else, and crashes on
 * demand: "segv" writes through a NULL pointer in crash_write (a function of its own,
 * exported so that the crash line can name it), "thread" does so in a pthread of its
 * own while the message's call waits for it. For tests/test_c_plugin_faults.py.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "websocket_plugin.h"

/* volatile: the compiler may not drop the write, nor call it a trap it may remove */
EXPORT void crash_write(int *volatile where)
{
    *where = 1;
}

static void *crash_thread(void *arg)
{
    crash_write(arg);
    return NULL;
}

static int is_text(int type, const unsigned char *buffer, size_t size, const char *text)
{
    return type == MESSAGE_TYPE_TEXT && size == strlen(text) && memcmp(buffer, text, size) == 0;
}

static size_t CALLBACK crash_message(void *private, const WebSocketServer *server,
                                     const int type, unsigned char *buffer, const size_t size)
{
    char pid[24];
    pthread_t thread;
    (void)private;
    if (is_text(type, buffer, size, "pid")) {
        int length = snprintf(pid, sizeof(pid), "%d", (int)getpid());
        return server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)pid, (size_t)length);
    }
    if (is_text(type, buffer, size, "segv"))
        crash_write(NULL);
    if (is_text(type, buffer, size, "thread") && pthread_create(&thread, NULL, crash_thread,
                                                                NULL) == 0)
        pthread_join(thread, NULL);
    return server->send(server, type, buffer, size);
}

static WebSocketPlugin crash = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, crash_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK crash_init(void)
{
    return &crash;
}

/* An init function that crashes: refused at its line, at -t and at start. */
EXPORT WebSocketPlugin *CALLBACK crash_at_init(void)
{
    crash_write(NULL);
    return &crash;
}
