/*
 * The records a plugin sees: the process, its servers, and for each handshake a
 * request_rec whose pool lives until geows destroys it after on_disconnect.
 * httpd's exported globals a plugin may read live here too.
 */

#include "runtime.h"

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_uri.h"
#include "apr_buckets.h"
#include "http_main.h"
#include "http_protocol.h"

/* httpd's globals (httpd.h, http_config.h, http_main.h). */
AP_DECLARE_DATA const char *ap_server_root = NULL;
AP_DECLARE_DATA server_rec *ap_server_conf = NULL;
AP_DECLARE_DATA const char *ap_server_argv0 = "geows";
AP_DECLARE_DATA apr_pool_t *ap_pglobal = NULL;

geows_log_sink geows_log_to = NULL;
apr_pool_t *geows_pconf = NULL;
server_rec *geows_main_server = NULL;

static process_rec *process;
static apr_uint32_t next_connection_id;

ap_conf_vector_t *geows_empty_vector(apr_pool_t *pool)
{
    void **slots = apr_pcalloc(pool, (GEOWS_MODULE_SLOTS + 1) * sizeof(void *));
    return (struct ap_conf_vector_t *)(slots + 1);
}

int geows_runtime_start(const char *server_root, geows_log_sink sink,
                        const geows_server_facts *main_server)
{
    static const char *argv[] = {"geows", NULL};
    apr_status_t status = apr_initialize();
    if (status != APR_SUCCESS)
        return status;
    status = apr_pool_create(&ap_pglobal, NULL);
    if (status != APR_SUCCESS)
        return status;
    status = apr_pool_create(&geows_pconf, ap_pglobal);
    if (status != APR_SUCCESS)
        return status;
    process = apr_pcalloc(ap_pglobal, sizeof(*process));
    process->pool = ap_pglobal;
    process->pconf = geows_pconf;
    process->short_name = "geows";
    process->argv = argv;
    process->argc = 1;
    ap_server_root = apr_pstrdup(ap_pglobal, server_root);
    geows_log_to = sink;
    geows_main_server = ap_server_conf = geows_server_new(main_server);
    return APR_SUCCESS;
}

static char *copy(apr_pool_t *pool, const char *text)
{
    return text == NULL ? NULL : apr_pstrdup(pool, text);
}

server_rec *geows_server_new(const geows_server_facts *facts)
{
    server_rec *s = apr_pcalloc(geows_pconf, sizeof(*s));
    s->process = process;
    s->server_hostname = copy(geows_pconf, facts->hostname);
    s->server_admin = copy(geows_pconf, facts->admin);
    s->defn_name = copy(geows_pconf, facts->defn_name);
    s->defn_line_number = facts->defn_line;
    s->port = (apr_port_t)facts->port;
    s->is_virtual = (char)facts->is_virtual;
    s->log.level = facts->log_level;
    s->timeout = facts->timeout;
    s->keep_alive_timeout = facts->timeout;
    s->module_config = geows_empty_vector(geows_pconf);
    s->lookup_defaults = geows_empty_vector(geows_pconf);
    s->names = apr_array_make(geows_pconf, 1, sizeof(char *));
    s->wild_names = apr_array_make(geows_pconf, 1, sizeof(char *));
    s->limit_req_line = DEFAULT_LIMIT_REQUEST_LINE;
    s->limit_req_fieldsize = DEFAULT_LIMIT_REQUEST_FIELDSIZE;
    s->limit_req_fields = DEFAULT_LIMIT_REQUEST_FIELDS;
    if (geows_main_server != NULL) {  /* httpd chains the vhosts after the main server */
        s->next = geows_main_server->next;
        geows_main_server->next = s;
    }
    return s;
}

static apr_sockaddr_t *address(apr_pool_t *pool, const char *ip, unsigned int port)
{
    apr_sockaddr_t *sa = NULL;
    /* A numeric address: getaddrinfo parses it, no lookup. */
    if (apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, (apr_port_t)port, 0, pool) != APR_SUCCESS)
        apr_sockaddr_info_get(&sa, "0.0.0.0", APR_INET, (apr_port_t)port, 0, pool);
    return sa;
}

static conn_rec *connection(server_rec *server, const geows_request_facts *facts)
{
    /* As httpd's MPMs make a connection's pool: an allocator of its own, which
       the pool owns, so that destroying the pool gives its memory back. */
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    conn_rec *c;
    if (apr_allocator_create(&allocator) != APR_SUCCESS)
        return NULL;
    apr_allocator_max_free_set(allocator, 0);
    if (apr_pool_create_ex(&pool, geows_pconf, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return NULL;
    }
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "geows connection");
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->base_server = server;
    c->client_ip = apr_pstrdup(pool, facts->client_ip);
    c->client_addr = address(pool, facts->client_ip, facts->client_port);
    c->local_ip = apr_pstrdup(pool, facts->local_ip);
    c->local_addr = address(pool, facts->local_ip, facts->local_port);
    c->id = (long)apr_atomic_inc32(&next_connection_id);
    c->conn_config = geows_empty_vector(pool);
    c->notes = apr_table_make(pool, 4);
    c->bucket_alloc = apr_bucket_alloc_create(pool);
    c->keepalive = AP_CONN_CLOSE;  /* the connection becomes a WebSocket */
    return c;
}

/* httpd keeps the Host's name lower-cased, without its port (fix_hostname). */
static char *host_name(apr_pool_t *pool, const char *host, apr_port_t *port)
{
    char *name = apr_pstrdup(pool, host);
    char *colon = strrchr(name, ':');
    char *bracket = strrchr(name, ']');
    if (colon != NULL && (bracket == NULL || colon > bracket)) {
        *colon = '\0';
        *port = (apr_port_t)atoi(colon + 1);
    }
    if (name[0] == '[') {  /* an IPv6 literal, kept without its brackets */
        name++;
        if (bracket != NULL)
            *bracket = '\0';
    }
    ap_str_tolower(name);
    return name;
}

request_rec *geows_request_new(server_rec *server, const geows_request_facts *facts)
{
    conn_rec *c = connection(server, facts);
    apr_pool_t *pool;
    request_rec *r;
    int i;
    if (c == NULL)
        return NULL;
    if (apr_pool_create(&pool, c->pool) != APR_SUCCESS) {
        apr_pool_destroy(c->pool);
        return NULL;
    }
    apr_pool_tag(pool, "geows request");
    r = apr_pcalloc(pool, sizeof(*r));
    r->pool = pool;
    r->connection = c;
    r->server = server;
    r->request_time = facts->request_time;
    r->method = apr_pstrdup(pool, facts->method);
    r->method_number = ap_method_number_of(r->method);
    r->protocol = apr_pstrdup(pool, facts->protocol);
    r->proto_num = HTTP_VERSION(1, 1);
    if (strcmp(r->protocol, "HTTP/1.0") == 0)
        r->proto_num = HTTP_VERSION(1, 0);
    r->unparsed_uri = apr_pstrdup(pool, facts->target);
    r->the_request = apr_pstrcat(pool, r->method, " ", r->unparsed_uri, " ", r->protocol, NULL);
    r->args = copy(pool, facts->args);
    apr_uri_parse(pool, r->unparsed_uri, &r->parsed_uri);
    /* httpd decodes the path where it parsed it: r->uri is parsed_uri.path */
    r->uri = r->parsed_uri.path = apr_pstrdup(pool, facts->uri);
    if (facts->hostname != NULL) {
        /* the Host's port goes to parsed_uri, its name only to r->hostname (httpd's
           fix_hostname): an origin-form target has no host of its own */
        apr_port_t port = 0;
        r->hostname = host_name(pool, facts->hostname, &port);
        if (port != 0) {
            r->parsed_uri.port = port;
            r->parsed_uri.port_str = apr_itoa(pool, port);
        }
    }
    r->user = copy(pool, facts->user);
    r->ap_auth_type = facts->user != NULL ? "Basic" : NULL;
    r->useragent_addr = c->client_addr;
    r->useragent_ip = c->client_ip;
    r->status = HTTP_OK;
    r->handler = "websocket-handler";
    r->headers_in = apr_table_make(pool, facts->header_count + 1);
    for (i = 0; i < facts->header_count; i++)
        apr_table_add(r->headers_in, facts->header_names[i], facts->header_values[i]);
    r->headers_out = apr_table_make(pool, 4);
    r->err_headers_out = apr_table_make(pool, 4);
    r->subprocess_env = apr_table_make(pool, 4);
    if (facts->secure)  /* as mod_ssl says so; ap_http_scheme reads it */
        apr_table_setn(r->subprocess_env, "HTTPS", "on");
    r->notes = apr_table_make(pool, 4);
    r->trailers_in = apr_table_make(pool, 1);
    r->trailers_out = apr_table_make(pool, 1);
    r->per_dir_config = geows_empty_vector(pool);
    r->request_config = geows_empty_vector(pool);
    return r;
}

void geows_request_destroy(request_rec *r)
{
    apr_pool_destroy(r->connection->pool);  /* the request's pool is its child */
}

static const char *const method_names[] = {
    "GET", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL", "CHECKOUT",
    "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE", "MKACTIVITY",
    "BASELINE-CONTROL", "MERGE",
};

/* M_GET .. M_MERGE are the names' indexes; HEAD is GET's. */
AP_DECLARE(int) ap_method_number_of(const char *method)
{
    int n;
    if (strcmp(method, "HEAD") == 0)
        return M_GET;
    for (n = 0; n < (int)(sizeof(method_names) / sizeof(method_names[0])); n++)
        if (strcmp(method, method_names[n]) == 0)
            return n;
    return M_INVALID;
}

AP_DECLARE(const char *) ap_method_name_of(apr_pool_t *p, int methnum)
{
    (void)p;
    if (methnum >= 0 && methnum < (int)(sizeof(method_names) / sizeof(method_names[0])))
        return method_names[methnum];
    return NULL;
}
