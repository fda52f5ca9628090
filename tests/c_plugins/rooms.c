/*
 * rooms: geows' extension of the header (geows_join, geows_leave,
 * geows_broadcast_room, geows_on_broadcast_gap) from a C plugin. Text
 * commands: "join ROOM" and "leave ROOM" answer "join ROOM 1" (1: done, 0:
 * refused); "to ROOM TEXT" broadcasts TEXT to the room, "all TEXT" to the
 * whole location, each answering nothing; "bad" tries names the server must
 * refuse and answers what each call returned; "size" answers which of the
 * extension's functions the server offers, "module" calls them as under
 * mod_websocket; "pid" answers the worker's pid.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "websocket_plugin.h"

static void send_text(const WebSocketServer *server, const char *text)
{
    server->send(server, MESSAGE_TYPE_TEXT, (const unsigned char *)text, strlen(text));
}

/* The command's argument: what follows `command` and a space, NUL-terminated (geows
   adds the NUL after the message). */
static const char *argument(const unsigned char *buffer, const char *command)
{
    size_t length = strlen(command);
    if (strncmp((const char *)buffer, command, length) != 0 || buffer[length] != ' ')
        return NULL;
    return (const char *)buffer + length + 1;
}

static size_t CALLBACK rooms_message(void *plugin_private, const WebSocketServer *server,
                                     const int type, unsigned char *buffer, const size_t size)
{
    char text[600];
    const char *room;
    (void)plugin_private;

    if (type != MESSAGE_TYPE_TEXT || memchr(buffer, '\0', size) != NULL)
        return 0;
    if ((room = argument(buffer, "join")) != NULL) {
        snprintf(text, sizeof(text), "join %s %d", room, geows_join(server, room));
        send_text(server, text);
    } else if ((room = argument(buffer, "leave")) != NULL) {
        snprintf(text, sizeof(text), "leave %s %d", room, geows_leave(server, room));
        send_text(server, text);
    } else if ((room = argument(buffer, "to")) != NULL) {
        /* to ROOM TEXT: the room's name ends at the first space. */
        char name[GEOWS_ROOM_NAME_MAX + 2];
        const char *space = strchr(room, ' ');
        size_t length = space != NULL ? (size_t)(space - room) : strlen(room);
        if (length >= sizeof(name))
            return 0;
        memcpy(name, room, length);
        name[length] = '\0';
        room += space != NULL ? length + 1 : length;
        geows_broadcast_room(server, MESSAGE_TYPE_TEXT, (const unsigned char *)room,
                             strlen(room), name);
    } else if ((room = argument(buffer, "all")) != NULL) {
        geows_broadcast_room(server, MESSAGE_TYPE_TEXT, (const unsigned char *)room,
                             strlen(room), NULL);
    } else if (strcmp((const char *)buffer, "bad") == 0) {
        char long_name[GEOWS_ROOM_NAME_MAX + 2];
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        snprintf(text, sizeof(text), "bad %d %d %d %d %d %zu %zu", geows_join(server, ""),
                 geows_join(server, long_name), geows_join(server, NULL),
                 geows_join(server, "\xff\xfe"), geows_leave(server, NULL),
                 geows_broadcast_room(server, 7, (const unsigned char *)"x", 1, "red"),
                 geows_broadcast_room(server, MESSAGE_TYPE_TEXT,
                                      (const unsigned char *)"x", 1, ""));
        send_text(server, text);
    } else if (strcmp((const char *)buffer, "module") == 0) {
        /* The module's struct alone, as mod_websocket passes it: the functions must
           not reach past it (its state would still work if they did). */
        WebSocketServer module = *server;
        module.size = sizeof(WebSocketServer);
        snprintf(text, sizeof(text), "module %d %d %zu", geows_join(&module, "m"),
                 geows_leave(&module, "m"),
                 geows_broadcast_room(&module, MESSAGE_TYPE_TEXT, buffer, size, NULL));
        send_text(server, text);
    } else if (strcmp((const char *)buffer, "pid") == 0) {
        snprintf(text, sizeof(text), "%ld", (long)getpid());
        send_text(server, text);
    } else if (strcmp((const char *)buffer, "size") == 0) {
        snprintf(text, sizeof(text), "size=%u join=%d leave=%d broadcast=%d", server->size,
                 GEOWS_OFFERS(server, join), GEOWS_OFFERS(server, leave),
                 GEOWS_OFFERS(server, broadcast));
        send_text(server, text);
    }
    return 0;
}

static WebSocketPlugin rooms_plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, NULL, rooms_message, NULL
};

EXPORT WebSocketPlugin *CALLBACK rooms_init(void)
{
    return &rooms_plugin;
}

/* Says each lost range on stderr: the error log under geows. */
EXPORT void CALLBACK geows_on_broadcast_gap(const char *location, geows_seq_t first,
                                            geows_seq_t last)
{
    fprintf(stderr, "rooms.c: %s lost %llu to %llu\n", location, first, last);
    fflush(stderr);
}
