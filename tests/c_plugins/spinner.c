/*
 * Imports nothing that waits, so geows calls it on the event loop (tests/test_c_calls.py):
 * "spin" computes for 0.3 s of CPU before answering, which sends its later calls to threads;
 * "bad" sends TEXT that is not UTF-8 (refused and logged) before its echo; "ping" sends a
 * ping over a control frame's 125 bytes (it fails, and is logged) and answers what send()
 * gave; "close" closes, then sends (0: the connection is closing); "all TEXT" broadcasts TEXT
 * to the location; "spin, then flood" computes for 0.3 s, then sends 16 MiB (256 binary
 * messages of 64 KiB: more than the socket takes at once); anything else is echoed.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "websocket_plugin.h"

static double cpu_now(void)
{
    struct timespec at;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &at);
    return (double)at.tv_sec + (double)at.tv_nsec / 1e9;
}

static size_t CALLBACK spinner_on_message(void *plugin_private, const WebSocketServer *server,
                                          const int type, unsigned char *buffer,
                                          const size_t buffer_size)
{
    (void)plugin_private;
    if ((buffer_size == 4 && memcmp(buffer, "spin", 4) == 0)
        || (buffer_size == 16 && memcmp(buffer, "spin, then flood", 16) == 0)) {
        double until = cpu_now() + 0.3;
        while (cpu_now() < until)
            ;
    }
    if (buffer_size == 16 && memcmp(buffer, "spin, then flood", 16) == 0) {
        static unsigned char block[65536];

        for (int i = 0; i < 256; i++)
            server->send(server, MESSAGE_TYPE_BINARY, block, sizeof block);
        return 0;
    }
    if (buffer_size == 4 && memcmp(buffer, "ping", 4) == 0) {
        unsigned char big[126];
        char answer[32];

        memset(big, 'x', sizeof big);
        snprintf(answer, sizeof answer, "ping gave %zu",
                 server->send(server, MESSAGE_TYPE_PING, big, sizeof big));
        return server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)answer, strlen(answer));
    }
    if (buffer_size == 5 && memcmp(buffer, "close", 5) == 0) {
        server->close(server);
        if (server->send(server, type, buffer, buffer_size) != 0)
            server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)"\xff", 1);  /* logged */
        return 0;
    }
    if (buffer_size >= 4 && memcmp(buffer, "all ", 4) == 0)
        return geows_broadcast_room(server, type, buffer + 4, buffer_size - 4, NULL);
    if (buffer_size == 3 && memcmp(buffer, "bad", 3) == 0)
        server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)"\xff\xfe", 2);
    return server->send(server, type, buffer, buffer_size);
}

static WebSocketPlugin spinner_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, spinner_on_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK spinner_init(void)
{
    return &spinner_plugin;
}
