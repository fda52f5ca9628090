/*
 * A plugin module's configuration calls: the ap_set_*_slot family its command_rec
 * table names, module configuration vectors, and hook registration, which is
 * accepted and counted; a plugin module's post_config and child_init hooks are kept and
 * run once its directives are read (docs/reference/c-plugins.md), no other hook runs.
 */

#include "runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "apr_strings.h"
#include "http_connection.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

/* Where a slot is: the command_rec's info is the field's offset in the struct. */
#define SLOT(type, cmd, struct_ptr) \
    ((type *)((char *)(struct_ptr) + (size_t)(cmd)->info))

static const char *directive(const cmd_parms *cmd)
{
    return cmd->cmd != NULL ? cmd->cmd->name : "directive";
}

AP_DECLARE_NONSTD(const char *) ap_set_string_slot(cmd_parms *cmd, void *struct_ptr,
                                                   const char *arg)
{
    *SLOT(const char *, cmd, struct_ptr) = arg;
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_string_slot_lower(cmd_parms *cmd, void *struct_ptr,
                                                         const char *arg)
{
    char *lower = apr_pstrdup(cmd->pool, arg);
    ap_str_tolower(lower);
    *SLOT(const char *, cmd, struct_ptr) = lower;
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_int_slot(cmd_parms *cmd, void *struct_ptr,
                                                const char *arg)
{
    /* as httpd: strtol's value is stored even when the word is refused */
    char *end;
    *SLOT(int, cmd, struct_ptr) = (int)strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0')
        return apr_psprintf(cmd->pool, "Invalid value for directive %s, expected integer",
                            cmd->directive != NULL ? cmd->directive->directive
                                                   : directive(cmd));
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_flag_slot(cmd_parms *cmd, void *struct_ptr, int arg)
{
    *SLOT(int, cmd, struct_ptr) = arg ? 1 : 0;
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_flag_slot_char(cmd_parms *cmd, void *struct_ptr,
                                                      int arg)
{
    *SLOT(char, cmd, struct_ptr) = arg ? 1 : 0;
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_file_slot(cmd_parms *cmd, void *struct_ptr,
                                                 const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL)
        return apr_psprintf(cmd->pool, "%s: Invalid file path '%s'", directive(cmd), arg);
    *SLOT(const char *, cmd, struct_ptr) = path;
    return NULL;
}

AP_DECLARE_NONSTD(const char *) ap_set_deprecated(cmd_parms *cmd, void *struct_ptr,
                                                  const char *arg)
{
    (void)struct_ptr;
    (void)arg;
    return cmd->cmd != NULL ? cmd->cmd->errmsg : "deprecated";
}

/* The functions behind http_config.h's macros, for plugins built with AP_DEBUG. */
#undef ap_get_module_config
#undef ap_set_module_config

AP_DECLARE(void *) ap_get_module_config(const ap_conf_vector_t *cv, const module *m)
{
    return ((void *const *)cv)[m->module_index];
}

AP_DECLARE(void) ap_set_module_config(ap_conf_vector_t *cv, const module *m, void *val)
{
    ((void **)cv)[m->module_index] = val;
}

/* Hook registration: counted by name. */

enum {
#define GEOWS_HOOK(name) HOOK_##name,
#include "hooks.def"
#undef GEOWS_HOOK
    HOOK_COUNT
};

static const char *const hook_names[] = {
#define GEOWS_HOOK(name) #name,
#include "hooks.def"
#undef GEOWS_HOOK
};

static int hook_counts[HOOK_COUNT];
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;

static void record_hook(int hook)
{
    pthread_mutex_lock(&hooks_lock);
    hook_counts[hook]++;
    pthread_mutex_unlock(&hooks_lock);
    if (geows_log_to != NULL) {
        char line[128];
        snprintf(line, sizeof(line), "ap_hook_%s() recorded: geows runs no httpd hook",
                 hook_names[hook]);
        geows_log_to(APLOG_INFO, "plugin", line);
    }
}

int geows_hook_count(const char *name)
{
    int hook, count = -1;
    pthread_mutex_lock(&hooks_lock);
    for (hook = 0; hook < HOOK_COUNT; hook++)
        if (strcmp(hook_names[hook], name) == 0)
            count = hook_counts[hook];
    pthread_mutex_unlock(&hooks_lock);
    return count;
}

/* The post_config and child_init hooks a plugin module's register_hooks registers:
   run (geows_run_module_hooks) once its directives are read; every other hook, and
   these registered by a plugin that is no module, are only recorded. */
#define KEPT_HOOKS 32

typedef struct {
    void (*function)(void);
    int order;
} kept_hook;

int geows_registering_module;
static kept_hook post_configs[KEPT_HOOKS], child_inits[KEPT_HOOKS];
static int post_config_count, child_init_count;

/* In nOrder's order, and in registration order for equal ones, as httpd sorts them. */
static void keep(kept_hook *hooks, int *count, void (*function)(void), int order)
{
    int at = *count;
    if (*count == KEPT_HOOKS)
        return;
    while (at > 0 && hooks[at - 1].order > order) {
        hooks[at] = hooks[at - 1];
        at--;
    }
    hooks[at].function = function;
    hooks[at].order = order;
    (*count)++;
}

static void record_module_hook(int hook, void (*function)(void), int order)
{
    if (!geows_registering_module || (hook != HOOK_post_config && hook != HOOK_child_init)) {
        record_hook(hook);
        return;
    }
    if (hook == HOOK_post_config)
        keep(post_configs, &post_config_count, function, order);
    else
        keep(child_inits, &child_init_count, function, order);
}

const char *geows_run_module_hooks(void)
{
    apr_pool_t *ptemp;
    int i, status;
    if (apr_pool_create(&ptemp, geows_pconf) != APR_SUCCESS)
        return "APR could not make the post_config hooks' temporary pool";
    for (i = 0; i < post_config_count; i++) {
        status = ((ap_HOOK_post_config_t *)post_configs[i].function)(
            geows_pconf, geows_pconf, ptemp, geows_main_server);
        if (status != OK && status != DECLINED) {
            apr_pool_destroy(ptemp);
            return apr_psprintf(geows_pconf, "a plugin module's post_config hook returned "
                                "%d: configuration failed", status);
        }
    }
    apr_pool_destroy(ptemp);
    for (i = 0; i < child_init_count; i++)
        ((ap_HOOK_child_init_t *)child_inits[i].function)(geows_pconf, geows_main_server);
    return NULL;
}

#define GEOWS_HOOK(name) \
    AP_DECLARE(void) ap_hook_##name(ap_HOOK_##name##_t *pf, const char *const *aszPre, \
                                    const char *const *aszSucc, int nOrder) \
    { \
        (void)aszPre; (void)aszSucc; \
        record_module_hook(HOOK_##name, (void (*)(void))pf, nOrder); \
    }
#include "hooks.def"
#undef GEOWS_HOOK
