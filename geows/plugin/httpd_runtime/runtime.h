/*
 * geows' httpd runtime for C plugins: what its sources share, and what geows
 * (geows/plugin/c_runtime.py, through ctypes) calls. Built against httpd 2.4's
 * own headers, so request_rec, conn_rec, server_rec, module and cmd_parms have
 * httpd's layout; APR is Debian's libapr-1 and libaprutil-1.
 */

#ifndef GEOWS_HTTPD_RUNTIME_H
#define GEOWS_HTTPD_RUNTIME_H

#include "httpd.h"
#include "http_config.h"

/* Where a log line goes: geows' error log (Python's logging), at an APLOG_* level,
   under its module's short name ("" for none, as httpd prints a line of a module it
   does not know: [:level]). */
typedef void (*geows_log_sink)(int level, const char *module, const char *line);

/* A server (the main one or a <VirtualHost>) as geows' config describes it. */
typedef struct geows_server_facts {
    const char *hostname;      /* ServerName, or the host name httpd would guess */
    const char *admin;         /* ServerAdmin */
    const char *defn_name;     /* the config file that defines it */
    unsigned int defn_line;
    unsigned int port;         /* ServerName's port; 0: the scheme's */
    int is_virtual;
    int log_level;             /* APLOG_* */
    apr_interval_time_t timeout;
} geows_server_facts;

/* The handshake request, as geows parsed it. */
typedef struct geows_request_facts {
    const char *method;
    const char *target;        /* as sent: unparsed_uri */
    const char *protocol;      /* "HTTP/1.1" */
    const char *uri;           /* decoded and normalised, as <Location> matched it */
    const char *args;          /* the query, NULL without one */
    const char *hostname;      /* the host that picked the vhost, NULL without one */
    const char *user;          /* REMOTE_USER after Basic authentication, or NULL */
    const char *client_ip;
    const char *local_ip;
    unsigned int client_port;
    unsigned int local_port;
    const char *const *header_names;
    const char *const *header_values;
    int header_count;
    apr_time_t request_time;
    int secure;                /* TLS: the scheme is https */
} geows_request_facts;

/* Once per process, before any plugin is loaded: APR, the configuration pool, the
   main server. 0 or an APR status. */
int geows_runtime_start(const char *server_root, geows_log_sink sink,
                        const geows_server_facts *main_server);
/* A server_rec for a <VirtualHost>, in the configuration pool (call one at a time). */
server_rec *geows_server_new(const geows_server_facts *facts);
/* A request_rec, its pool a child of its connection's, which has a pool of its own. */
request_rec *geows_request_new(server_rec *server, const geows_request_facts *facts);
/* The connection's pool destroyed, the request's with it. */
void geows_request_destroy(request_rec *r);
/* How many times ap_hook_<name> was called (recorded; no hook runs yet). */
int geows_hook_count(const char *name);

/* A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) is said on `fd` before the process
   dies of it: the C plugin whose code it was in, where, the locations it serves, then
   `then` (what happens next); while an init function runs, its line (see below). `utc_offset`: local time's, in seconds, for the stamp.
   0, or -1 if the handler could not be installed. */
int geows_crash_report_to(int fd, long utc_offset, const char *then);
/* A plugin library (the path it was loaded by) and the locations it serves, for the
   crash line; after geows_crash_report_to, which forgets those named before. */
void geows_crash_plugin(const char *path, const char *serving);
/* The plugin init function running now (the crash line names it: "FILE:LINE:
   WebSocketHandler: init() in PATH"), or NULL once it returned. */
void geows_crash_loading(const char *init);
/* Plugin modules (modules.c): registered, their directives evaluated, their configs
   merged. */
#define GEOWS_DIRECTIVE_DONE 0
#define GEOWS_DIRECTIVE_UNKNOWN 1
#define GEOWS_DIRECTIVE_REFUSED 2
const char *geows_module_add(module *m, const char *identifier, const char *file);
int geows_module_directive(const char *name, const char *args, const char *file, int line,
                           const char *section, int in_directory, const char *path,
                           server_rec *server, ap_conf_vector_t *vector, const char **message);
ap_conf_vector_t *geows_section_vector(void);
void geows_modules_fixup(void);
void geows_request_merge(request_rec *r, ap_conf_vector_t *const *sections, int count);
const char *geows_module_short_name(int module_index);
/* While a plugin module's register_hooks runs (config.c keeps its post_config and
   child_init hooks); then, once every directive is read, they are run: NULL, or why
   the configuration failed. */
extern int geows_registering_module;
const char *geows_run_module_hooks(void);

/* Room for every plugin module's slot in a configuration vector; a module whose
   module_index is still -1 (never registered) reads the slot before the first, NULL. */
#define GEOWS_MODULE_SLOTS 64
ap_conf_vector_t *geows_empty_vector(apr_pool_t *pool);

/* Shared between the runtime's sources. */
extern geows_log_sink geows_log_to;
extern apr_pool_t *geows_pconf;
extern server_rec *geows_main_server;

#endif /* GEOWS_HTTPD_RUNTIME_H */
