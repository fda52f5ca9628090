/*
 * A stand-in for mod_websocket that httpd can load, so `apache2 -t` checks the module's
 * directives as the real module does, and a running httpd reports which WebSocket
 * configuration wins for a request. Written for geows' differential tests from the module's
 * documented behaviour:
 *
 * - module websocket_module (mod_websocket.c);
 * - WebSocketHandler takes two arguments, MaxMessageSize one, SupportDraft75 is a flag;
 *   all three are OR_AUTHCFG: <Directory>/<Location> sections and .htaccess with
 *   AllowOverride AuthConfig, never the server or <VirtualHost> level;
 * - MaxMessageSize is read with apr_atoi64 and must come out above zero;
 * - the per-directory config is created only for a directory-like section (a NULL path
 *   gets none) and the module has no merge function, so the last section that uses any of
 *   its directives replaces the whole config.
 *
 * The real module loads the plugin when it reads WebSocketHandler; geows' plugins are
 * Python, so the stand-in only records the path. Its handler answers a request for which
 * "websocket-handler" is the handler with an X-WebSocket header naming the plugin, the
 * init function, the size limit and the draft-75 flag, and declines otherwise, as the
 * module does when no plugin is configured.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_strings.h"

module AP_MODULE_DECLARE_DATA websocket_module;

typedef struct {
    const char *plugin;     /* ServerRoot-relative path resolved, or NULL */
    const char *init;
    apr_int64_t max_message_size;
    int support_draft75;
} standin_config;

static void *standin_create_dir_config(apr_pool_t *p, char *path)
{
    standin_config *conf;

    if (path == NULL) {
        return NULL;
    }
    conf = apr_pcalloc(p, sizeof(*conf));
    conf->max_message_size = 32 * 1024 * 1024;
    return conf;
}

static const char *standin_set_handler(cmd_parms *cmd, void *dirconf,
                                       const char *plugin, const char *init)
{
    standin_config *conf = dirconf;

    if (conf == NULL) {
        return "Invalid parameters";
    }
    conf->plugin = ap_server_root_relative(cmd->pool, plugin);
    conf->init = init;
    return NULL;
}

static const char *standin_set_max_message_size(cmd_parms *cmd, void *dirconf,
                                                const char *size)
{
    standin_config *conf = dirconf;
    apr_int64_t value;

    if (conf == NULL) {
        return "Invalid parameter";
    }
    value = apr_atoi64(size);
    if (value <= 0) {
        return "Invalid maximum message size";
    }
    conf->max_message_size = value;
    return NULL;
}

static const char *standin_set_draft75(cmd_parms *cmd, void *dirconf, int on)
{
    standin_config *conf = dirconf;

    if (conf == NULL) {
        return "Invalid parameter";
    }
    conf->support_draft75 = on;
    return NULL;
}

static int standin_handler(request_rec *r)
{
    standin_config *conf = ap_get_module_config(r->per_dir_config, &websocket_module);

    if (r->handler == NULL || strcmp(r->handler, "websocket-handler") != 0
        || conf == NULL || conf->plugin == NULL) {
        return DECLINED;
    }
    apr_table_setn(r->headers_out, "X-WebSocket",
                   apr_psprintf(r->pool, "%s %s %" APR_INT64_T_FMT " %s", conf->plugin,
                                conf->init, conf->max_message_size,
                                conf->support_draft75 ? "on" : "off"));
    ap_set_content_type(r, "text/plain");
    ap_rputs("websocket stand-in\n", r);
    return OK;
}

static void standin_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(standin_handler, NULL, NULL, APR_HOOK_FIRST);
}

static const command_rec standin_commands[] = {
    AP_INIT_TAKE2("WebSocketHandler", standin_set_handler, NULL, OR_AUTHCFG,
                  "the plugin file followed by the name of its initialization function"),
    AP_INIT_TAKE1("MaxMessageSize", standin_set_max_message_size, NULL, OR_AUTHCFG,
                  "the largest message to accept, in bytes"),
    AP_INIT_FLAG("SupportDraft75", standin_set_draft75, NULL, OR_AUTHCFG,
                 "On or Off: accept the draft-75 handshake"),
    {NULL}
};

module AP_MODULE_DECLARE_DATA websocket_module = {
    STANDARD20_MODULE_STUFF,
    standin_create_dir_config,
    NULL,                       /* no merge: the last section's config wins whole */
    NULL,
    NULL,
    standin_commands,
    standin_register_hooks
};
