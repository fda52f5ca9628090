/* A plugin that needs a symbol nothing defines: dlopen(RTLD_NOW) must fail. */

#include "websocket_plugin.h"

extern WebSocketPlugin *geows_test_undefined(void);

EXPORT WebSocketPlugin *CALLBACK undefined_init(void)
{
    return geows_test_undefined();
}
