/*
 * A plugin module, as public ones are written: a `module` with its own directives,
 * loaded by LoadModule, whose file a WebSocketHandler names as well.
 *
 * - per directory: SettingsGreeting (TAKE1, ap_set_string_slot), SettingsLoud (FLAG,
 *   ap_set_flag_slot), SettingsLimit (TAKE1, ap_set_int_slot, then its own check: above
 *   zero), SettingsTag (ITERATE, its own handler: each word added); merged child over
 *   parent, a tag list appended;
 * - per server: SettingsBanner (TAKE1, RSRC_CONF), merged vhost over main;
 * - post_config and child_init hooks, counted.
 *
 * on_connect reads both through r and logs them with ap_log_rerror; every message is
 * answered with the same report. Refuses a connection whose SettingsLimit is 0.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "websocket_plugin.h"

#include <string.h>

APLOG_USE_MODULE(ws_settings);

module AP_MODULE_DECLARE_DATA ws_settings_module;

typedef struct {
    const char *greeting;
    int loud;        /* -1: unset */
    int limit;       /* -1: unset */
    const char *tags;
} dir_settings;

typedef struct {
    const char *banner;
} server_settings;

static int post_config_runs, child_init_runs;

static void *create_dir(apr_pool_t *p, char *path)
{
    dir_settings *d = apr_pcalloc(p, sizeof(*d));
    (void)path;
    d->loud = -1;
    d->limit = -1;
    return d;
}

static void *merge_dir(apr_pool_t *p, void *base_, void *add_)
{
    dir_settings *base = base_, *add = add_, *d = apr_pcalloc(p, sizeof(*d));
    d->greeting = add->greeting != NULL ? add->greeting : base->greeting;
    d->loud = add->loud != -1 ? add->loud : base->loud;
    d->limit = add->limit != -1 ? add->limit : base->limit;
    if (base->tags != NULL && add->tags != NULL)
        d->tags = apr_pstrcat(p, base->tags, ",", add->tags, NULL);
    else
        d->tags = add->tags != NULL ? add->tags : base->tags;
    return d;
}

static void *create_server(apr_pool_t *p, server_rec *s)
{
    server_settings *settings = apr_pcalloc(p, sizeof(*settings));
    (void)s;
    return settings;
}

static void *merge_server(apr_pool_t *p, void *base_, void *add_)
{
    server_settings *base = base_, *add = add_, *settings = apr_pcalloc(p, sizeof(*settings));
    settings->banner = add->banner != NULL ? add->banner : base->banner;
    return settings;
}

static const char *set_limit(cmd_parms *cmd, void *config, const char *arg)
{
    const char *refused = ap_set_int_slot(cmd, config, arg);
    if (refused != NULL)
        return refused;
    if (((dir_settings *)config)->limit < 0)
        return apr_psprintf(cmd->pool, "%s must be zero or more, not %s", cmd->cmd->name, arg);
    return NULL;
}

static const char *add_tag(cmd_parms *cmd, void *config, const char *arg)
{
    dir_settings *d = config;
    d->tags = d->tags == NULL ? arg : apr_pstrcat(cmd->pool, d->tags, ",", arg, NULL);
    return NULL;
}

static const char *set_banner(cmd_parms *cmd, void *config, const char *arg)
{
    server_settings *settings = ap_get_module_config(cmd->server->module_config,
                                                     &ws_settings_module);
    (void)config;
    settings->banner = arg;
    return NULL;
}

static const command_rec settings_commands[] = {
    AP_INIT_TAKE1("SettingsGreeting", ap_set_string_slot,
                  (void *)APR_OFFSETOF(dir_settings, greeting), ACCESS_CONF,
                  "the greeting to answer with"),
    AP_INIT_FLAG("SettingsLoud", ap_set_flag_slot, (void *)APR_OFFSETOF(dir_settings, loud),
                 ACCESS_CONF, "On to shout"),
    AP_INIT_TAKE1("SettingsLimit", set_limit, (void *)APR_OFFSETOF(dir_settings, limit),
                  ACCESS_CONF, "a number of messages"),
    AP_INIT_ITERATE("SettingsTag", add_tag, NULL, ACCESS_CONF, "one or more tags"),
    AP_INIT_TAKE1("SettingsBanner", set_banner, NULL, RSRC_CONF, "the server's banner"),
    {NULL}
};

static int count_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    (void)pconf; (void)plog; (void)ptemp; (void)s;
    post_config_runs++;
    return OK;
}

static void count_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild; (void)s;
    child_init_runs++;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(count_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(count_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA ws_settings_module = {
    STANDARD20_MODULE_STUFF, create_dir, merge_dir, create_server, merge_server,
    settings_commands, register_hooks, 0
};

/* The plugin: the report of what r says, made once in on_connect. */

static void *CALLBACK on_connect(const WebSocketServer *server)
{
    request_rec *r = server->request(server);
    dir_settings *d;
    server_settings *s;
    char *report;
    if (r == NULL)
        return NULL;
    d = ap_get_module_config(r->per_dir_config, &ws_settings_module);
    s = ap_get_module_config(r->server->module_config, &ws_settings_module);
    report = apr_psprintf(r->pool, "greeting=%s loud=%d limit=%d tags=%s banner=%s "
                          "post_config=%d child_init=%d",
                          d->greeting ? d->greeting : "(unset)", d->loud, d->limit,
                          d->tags ? d->tags : "(none)", s->banner ? s->banner : "(unset)",
                          post_config_runs, child_init_runs);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "settings for %s: %s", r->uri, report);
    if (d->limit == 0)
        return NULL;
    return report;
}

static size_t CALLBACK on_message(void *plugin_private, const WebSocketServer *server,
                                  const int type, unsigned char *buffer,
                                  const size_t buffer_size)
{
    const char *report = plugin_private;
    (void)type; (void)buffer; (void)buffer_size;
    return server->send(server, MESSAGE_TYPE_TEXT, (unsigned char *)report, strlen(report));
}

static WebSocketPlugin plugin = {
    sizeof(WebSocketPlugin), WEBSOCKET_PLUGIN_VERSION_0, NULL, on_connect, on_message, NULL
};

WebSocketPlugin *CALLBACK ws_settings_init(void)
{
    return &plugin;
}
