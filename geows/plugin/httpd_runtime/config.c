/*
 * A plugin module's configuration calls: the ap_set_*_slot family its command_rec
 * table names, module configuration vectors, and hook registration, which is
 * accepted and counted (geows runs none of httpd's hooks: docs/reference/c-plugins.md).
 */

#include "runtime.h"

#include <errno.h>
#include <limits.h>
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
    char *end;
    long value;
    errno = 0;
    value = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno != 0 || value < INT_MIN || value > INT_MAX)
        return apr_psprintf(cmd->pool, "%s takes an integer, not '%s'", directive(cmd), arg);
    *SLOT(int, cmd, struct_ptr) = (int)value;
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
        return apr_psprintf(cmd->pool, "%s: invalid file path '%s'", directive(cmd), arg);
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

#define GEOWS_HOOK(name) \
    AP_DECLARE(void) ap_hook_##name(ap_HOOK_##name##_t *pf, const char *const *aszPre, \
                                    const char *const *aszSucc, int nOrder) \
    { \
        (void)pf; (void)aszPre; (void)aszSucc; (void)nOrder; \
        record_hook(HOOK_##name); \
    }
#include "hooks.def"
#undef GEOWS_HOOK
