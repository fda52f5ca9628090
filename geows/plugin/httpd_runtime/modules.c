/*
 * Plugin modules: a LoadModule'd file that a WebSocketHandler also names, whose
 * `module` struct is registered here as httpd's ap_add_module does (its cookie and
 * version checked, a module_index given, register_hooks run), whose directives are
 * evaluated as httpd's invoke_cmd evaluates them (context check, argument kind), and
 * whose per-directory and per-server configs are created and merged in httpd's order
 * (ap_set_config_vectors, ap_merge_per_dir_configs, ap_fixup_virtual_hosts).
 * geows (geows/plugin/modules.py) decides which directive goes where.
 */

#include "runtime.h"

#include "apr_strings.h"
#include "http_log.h"

/* config.c's own limits and types */
#define AP_MAX_ARGC 64
typedef void *(*merger_func)(apr_pool_t *, void *, void *);

static module *registered[GEOWS_MODULE_SLOTS];
static char short_names[GEOWS_MODULE_SLOTS][64];  /* made at registration: read by any thread */
static int total;

static void set_short_name(int index, const char *name)
{
    const char *dot;
    size_t length;
    if (strncmp(name, "mod_", 4) == 0)
        name += 4;
    dot = strchr(name, '.');
    length = dot != NULL ? (size_t)(dot - name) : strlen(name);
    if (length >= sizeof(short_names[0]))
        length = sizeof(short_names[0]) - 1;
    memcpy(short_names[index], name, length);
}
static apr_pool_t *temp_pool;

/* What cmd_parms->override is where a directive stands (config.c, core.c). */
#define SERVER_OVERRIDE ((RSRC_CONF | OR_ALL) & ~(OR_AUTHCFG | OR_LIMIT))
#define SECTION_OVERRIDE (OR_ALL | ACCESS_CONF)

/* The message mod_so's load_module and ap_add_module give; NULL once registered.
   `identifier` is LoadModule's module name, `file` the file it was found in. */
const char *geows_module_add(module *m, const char *identifier, const char *file)
{
    const char *name;
    if (m->magic != MODULE_MAGIC_COOKIE)
        return apr_psprintf(geows_pconf, "API module structure '%s' in file %s is garbled - "
                            "expected signature %08lx but saw %08lx - perhaps this is not an "
                            "Apache module DSO, or was compiled for a different Apache "
                            "version?", identifier, file, MODULE_MAGIC_COOKIE, m->magic);
    if (m->version != MODULE_MAGIC_NUMBER_MAJOR)
        return apr_psprintf(geows_pconf, "Module \"%s\" is not compatible with this version "
                            "of Apache (found %d, need %d). Please contact the vendor for "
                            "the correct version.", m->name, m->version,
                            MODULE_MAGIC_NUMBER_MAJOR);
    if (total == GEOWS_MODULE_SLOTS)
        return apr_psprintf(geows_pconf, "Module \"%s\": geows loads at most %d plugin "
                            "modules", m->name, GEOWS_MODULE_SLOTS);
    if (temp_pool == NULL && apr_pool_create(&temp_pool, geows_pconf) != APR_SUCCESS)
        return "APR could not make the configuration's temporary pool";
    /* httpd keeps the source's name without its directories */
    name = strrchr(m->name, '/');
    if (name != NULL)
        m->name = name + 1;
    m->module_index = total;
    set_short_name(total, m->name);
    m->next = total > 0 ? registered[total - 1] : NULL;
    registered[total++] = m;
    /* the main server's configs, made at start for every module (create_server_config,
       create_default_per_dir_config) */
    if (m->create_server_config != NULL)
        ap_set_module_config(geows_main_server->module_config, m,
                             m->create_server_config(geows_pconf, geows_main_server));
    if (m->create_dir_config != NULL)
        ap_set_module_config(geows_main_server->lookup_defaults, m,
                             m->create_dir_config(geows_pconf, NULL));
    if (m->register_hooks != NULL) {
        geows_registering_module = 1;
        m->register_hooks(geows_pconf);
        geows_registering_module = 0;
    }
    return NULL;
}

/* The short name httpd's log lines give a module ([foo:info] for mod_foo.c), or "". */
const char *geows_module_short_name(int module_index)
{
    if (module_index < 0 || module_index >= total)
        return "";
    return short_names[module_index];
}

static const command_rec *find_command(const char *name, module **owner)
{
    int i;
    const command_rec *cmd;
    for (i = 0; i < total; i++)
        for (cmd = registered[i]->cmds; cmd != NULL && cmd->name != NULL; cmd++)
            if (ap_cstr_casecmp(name, cmd->name) == 0) {
                *owner = registered[i];
                return cmd;
            }
    return NULL;
}

static const char *with_errmsg(const command_rec *cmd, const char *what)
{
    return apr_pstrcat(geows_pconf, cmd->name, what, cmd->errmsg ? ", " : NULL, cmd->errmsg,
                       NULL);
}

/* httpd's invoke_cmd, after its context check: the arguments split by kind. */
static const char *invoke(const command_rec *cmd, cmd_parms *parms, void *mconfig,
                          const char *args)
{
    apr_pool_t *p = parms->pool;
    char *w, *w2, *w3;
    const char *errmsg = NULL;
    switch (cmd->args_how) {
    case RAW_ARGS:
        return cmd->AP_RAW_ARGS(parms, mconfig, args);
    case TAKE_ARGV: {
        char *argv[AP_MAX_ARGC];
        int argc = 0;
        do {
            w = ap_getword_conf(p, &args);
            if (*w == '\0' && *args == '\0')
                break;
            argv[argc++] = w;
        } while (argc < AP_MAX_ARGC && *args != '\0');
        return cmd->AP_TAKE_ARGV(parms, mconfig, argc, argv);
    }
    case NO_ARGS:
        if (*args != '\0')
            return apr_pstrcat(p, cmd->name, " takes no arguments", NULL);
        return cmd->AP_NO_ARGS(parms, mconfig);
    case TAKE1:
        w = ap_getword_conf(p, &args);
        if (*w == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes one argument");
        return cmd->AP_TAKE1(parms, mconfig, w);
    case TAKE2:
        w = ap_getword_conf(p, &args);
        w2 = ap_getword_conf(p, &args);
        if (*w == '\0' || *w2 == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes two arguments");
        return cmd->AP_TAKE2(parms, mconfig, w, w2);
    case TAKE12:
        w = ap_getword_conf(p, &args);
        w2 = ap_getword_conf(p, &args);
        if (*w == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes 1-2 arguments");
        return cmd->AP_TAKE2(parms, mconfig, w, *w2 ? w2 : NULL);
    case TAKE3:
        w = ap_getword_conf(p, &args);
        w2 = ap_getword_conf(p, &args);
        w3 = ap_getword_conf(p, &args);
        if (*w == '\0' || *w2 == '\0' || *w3 == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes three arguments");
        return cmd->AP_TAKE3(parms, mconfig, w, w2, w3);
    case TAKE23:
        w = ap_getword_conf(p, &args);
        w2 = ap_getword_conf(p, &args);
        w3 = *args ? ap_getword_conf(p, &args) : NULL;
        if (*w == '\0' || *w2 == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes two or three arguments");
        return cmd->AP_TAKE3(parms, mconfig, w, w2, w3);
    case TAKE123:
        w = ap_getword_conf(p, &args);
        w2 = *args ? ap_getword_conf(p, &args) : NULL;
        w3 = *args ? ap_getword_conf(p, &args) : NULL;
        if (*w == '\0' || *args != '\0')
            return with_errmsg(cmd, " takes one, two or three arguments");
        return cmd->AP_TAKE3(parms, mconfig, w, w2, w3);
    case TAKE13:
        w = ap_getword_conf(p, &args);
        w2 = *args ? ap_getword_conf(p, &args) : NULL;
        w3 = *args ? ap_getword_conf(p, &args) : NULL;
        if (*w == '\0' || (w2 && *w2 && !w3) || *args != '\0')
            return with_errmsg(cmd, " takes one or three arguments");
        return cmd->AP_TAKE3(parms, mconfig, w, w2, w3);
    case ITERATE:
        w = ap_getword_conf(p, &args);
        if (*w == '\0')
            return with_errmsg(cmd, " requires at least one argument");
        while (*w != '\0') {
            errmsg = cmd->AP_TAKE1(parms, mconfig, w);
            if (errmsg != NULL && strcmp(errmsg, DECLINE_CMD) != 0)
                return errmsg;
            w = ap_getword_conf(p, &args);
        }
        return errmsg;
    case ITERATE2:
        w = ap_getword_conf(p, &args);
        if (*w == '\0' || *args == '\0')
            return with_errmsg(cmd, " requires at least two arguments");
        while (*(w2 = ap_getword_conf(p, &args)) != '\0') {
            errmsg = cmd->AP_TAKE2(parms, mconfig, w, w2);
            if (errmsg != NULL && strcmp(errmsg, DECLINE_CMD) != 0)
                return errmsg;
        }
        return errmsg;
    case FLAG:
        w = ap_getword_conf(parms->temp_pool, &args);
        if (*w == '\0' || (ap_cstr_casecmp(w, "on") && ap_cstr_casecmp(w, "off")))
            return apr_pstrcat(p, cmd->name, " must be On or Off", NULL);
        return cmd->AP_FLAG(parms, mconfig, ap_cstr_casecmp(w, "off") != 0);
    default:
        return apr_pstrcat(p, cmd->name, " is improperly configured internally (server bug)",
                           NULL);
    }
}

/* An empty configuration vector for a section (ap_create_per_dir_config). */
ap_conf_vector_t *geows_section_vector(void)
{
    return geows_empty_vector(geows_pconf);
}

/* A request's per_dir_config: its server's defaults, then each <Location> that applies
   (`count` vectors, in merge order), as httpd's location walk merges them. */
void geows_request_merge(request_rec *r, ap_conf_vector_t *const *sections, int count)
{
    ap_conf_vector_t *merged = r->server->lookup_defaults;
    int i;
    for (i = 0; i < count; i++)
        merged = ap_merge_per_dir_configs(r->pool, merged, sections[i]);
    r->per_dir_config = merged;
}

/* One directive where it stands: `section` is its innermost section as written
   ("Location", "VirtualHost"; NULL at the main server's level), `in_directory` whether
   that is a directory section (<Location>, <Directory>...), `path` its argument,
   `vector` its configuration vector (NULL: the server's lookup_defaults, outside one).
   GEOWS_DIRECTIVE_UNKNOWN when no plugin module declares it; GEOWS_DIRECTIVE_DONE; or
   GEOWS_DIRECTIVE_REFUSED with httpd's message in *message. */
int geows_module_directive(const char *name, const char *args, const char *file, int line,
                           const char *section, int in_directory, const char *path,
                           server_rec *server, ap_conf_vector_t *vector, const char **message)
{
    module *owner = NULL;
    const command_rec *cmd = find_command(name, &owner);
    cmd_parms parms;
    ap_directive_t parent, directive;
    void *mconfig;
    *message = NULL;
    if (vector == NULL)
        vector = server->lookup_defaults;
    if (cmd == NULL)
        return GEOWS_DIRECTIVE_UNKNOWN;
    memset(&parms, 0, sizeof(parms));
    memset(&parent, 0, sizeof(parent));
    memset(&directive, 0, sizeof(directive));
    directive.directive = apr_pstrdup(geows_pconf, name);
    directive.args = apr_pstrdup(geows_pconf, args);
    directive.filename = apr_pstrdup(geows_pconf, file);
    directive.line_num = line;
    if (section != NULL) {
        parent.directive = apr_pstrcat(geows_pconf, "<", section, NULL);
        parent.args = apr_pstrdup(geows_pconf, path != NULL ? path : "");
        parent.filename = directive.filename;
        directive.parent = &parent;
    }
    parms.override = in_directory ? SECTION_OVERRIDE : SERVER_OVERRIDE;
    parms.pool = geows_pconf;
    parms.temp_pool = temp_pool;
    parms.server = server;
    parms.path = path != NULL ? apr_pstrdup(geows_pconf, path) : NULL;
    parms.directive = &directive;
    parms.err_directive = &directive;
    parms.context = vector;
    parms.limited = -1;
    if ((parms.override & cmd->req_override) == 0) {
        if (directive.parent != NULL)
            *message = apr_pstrcat(geows_pconf, cmd->name, " not allowed in <", section, ">",
                                   " context", NULL);
        else
            *message = apr_pstrcat(geows_pconf, cmd->name, " not allowed here", NULL);
        return GEOWS_DIRECTIVE_REFUSED;
    }
    parms.info = cmd->cmd_data;
    parms.cmd = cmd;
    mconfig = ap_set_config_vectors(server, vector, parms.path, owner, geows_pconf);
    *message = invoke(cmd, &parms, mconfig, directive.args);
    if (*message != NULL && strcmp(*message, DECLINE_CMD) == 0)
        *message = NULL;  /* httpd would try another module: none declares it twice here */
    return *message != NULL ? GEOWS_DIRECTIVE_REFUSED : GEOWS_DIRECTIVE_DONE;
}

AP_CORE_DECLARE(void *) ap_set_config_vectors(server_rec *server,
                                              ap_conf_vector_t *section_vector,
                                              const char *section, module *mod,
                                              apr_pool_t *pconf)
{
    void *section_config = ap_get_module_config(section_vector, mod);
    void *server_config = ap_get_module_config(server->module_config, mod);
    if (section_config == NULL && mod->create_dir_config != NULL) {
        section_config = mod->create_dir_config(pconf, (char *)section);
        ap_set_module_config(section_vector, mod, section_config);
    }
    if (server_config == NULL && mod->create_server_config != NULL)
        ap_set_module_config(server->module_config, mod,
                             mod->create_server_config(pconf, server));
    return section_config;
}

/* `add` merged over `base`, module by module, into a new vector in p. */
AP_CORE_DECLARE(ap_conf_vector_t *) ap_merge_per_dir_configs(apr_pool_t *p,
                                                             ap_conf_vector_t *base,
                                                             ap_conf_vector_t *add)
{
    void **merged = (void **)geows_empty_vector(p);
    void **base_vector = (void **)base, **add_vector = (void **)add;
    int i;
    for (i = 0; i < total; i++) {
        module *m = registered[i];
        if (add_vector[i] == NULL)
            merged[i] = base_vector[i];
        else if (m->merge_dir_config != NULL && base_vector[i] != NULL)
            merged[i] = m->merge_dir_config(p, base_vector[i], add_vector[i]);
        else
            merged[i] = add_vector[i];
    }
    return (ap_conf_vector_t *)merged;
}

static int always_merge(const module *m)
{
    if (m->version < AP_MODULE_FLAGS_MMN_MAJOR
            || (m->version == AP_MODULE_FLAGS_MMN_MAJOR
                && m->minor_version < AP_MODULE_FLAGS_MMN_MINOR))
        return 0;
    return (m->flags & AP_MODULE_FLAG_ALWAYS_MERGE) != 0;
}

/* Once every directive is read: each vhost's configs merged over the main server's,
   as ap_fixup_virtual_hosts does. */
void geows_modules_fixup(void)
{
    server_rec *virt;
    int i;
    for (virt = geows_main_server->next; virt != NULL; virt = virt->next) {
        void **base = (void **)geows_main_server->module_config;
        void **own = (void **)virt->module_config;
        for (i = 0; i < total; i++) {
            module *m = registered[i];
            merger_func merge = m->merge_server_config;
            if (own[i] == NULL) {
                if (merge != NULL && m->create_server_config != NULL && always_merge(m)) {
                    own[i] = m->create_server_config(geows_pconf, virt);
                } else {
                    own[i] = base[i];
                    merge = NULL;
                }
            }
            if (merge != NULL)
                own[i] = merge(geows_pconf, base[i], own[i]);
        }
        virt->lookup_defaults = ap_merge_per_dir_configs(
            geows_pconf, geows_main_server->lookup_defaults, virt->lookup_defaults);
    }
}
