/*
 * httpd's string helpers plugins use: words, tokens, escapes, wildcards, base64.
 * Written here from their documented behaviour (httpd.h); the memory comes from
 * the pool the caller names.
 */

#include "runtime.h"

#include <ctype.h>
#include <string.h>

#include "apr_base64.h"
#include "apr_lib.h"
#include "apr_strings.h"

/* Words. */

static char *word_until(apr_pool_t *p, const char **line, char stop, int skip_repeats)
{
    const char *end = strchr(*line, stop);
    char *word;
    if (end == NULL) {
        word = apr_pstrdup(p, *line);
        *line += strlen(*line);
        return word;
    }
    word = apr_pstrmemdup(p, *line, (apr_size_t)(end - *line));
    end++;
    while (skip_repeats && *end == stop)
        end++;
    *line = end;
    return word;
}

AP_DECLARE(char *) ap_getword(apr_pool_t *p, const char **line, char stop)
{
    return word_until(p, line, stop, 1);
}

AP_DECLARE(char *) ap_getword_nc(apr_pool_t *p, char **line, char stop)
{
    return word_until(p, (const char **)line, stop, 1);
}

AP_DECLARE(char *) ap_getword_nulls(apr_pool_t *p, const char **line, char stop)
{
    return word_until(p, line, stop, 0);
}

AP_DECLARE(char *) ap_getword_nulls_nc(apr_pool_t *p, char **line, char stop)
{
    return word_until(p, (const char **)line, stop, 0);
}

AP_DECLARE(char *) ap_getword_white(apr_pool_t *p, const char **line)
{
    const char *end = *line;
    char *word;
    while (*end != '\0' && !apr_isspace(*end))
        end++;
    word = apr_pstrmemdup(p, *line, (apr_size_t)(end - *line));
    while (apr_isspace(*end))
        end++;
    *line = end;
    return word;
}

AP_DECLARE(char *) ap_getword_white_nc(apr_pool_t *p, char **line)
{
    return ap_getword_white(p, (const char **)line);
}

/* A configuration word: "quoted" or 'quoted' (a backslash keeps the quote), or up
   to white space; the white space after it is skipped. */
AP_DECLARE(char *) ap_getword_conf(apr_pool_t *p, const char **line)
{
    const char *at = *line;
    char *word, *out;
    while (apr_isspace(*at))
        at++;
    if (*at == '"' || *at == '\'') {
        char quote = *at++;
        out = word = apr_palloc(p, strlen(at) + 1);
        while (*at != '\0' && *at != quote) {
            if (at[0] == '\\' && at[1] == quote)
                at++;
            *out++ = *at++;
        }
        *out = '\0';
        if (*at == quote)
            at++;
    }
    else {
        const char *start = at;
        while (*at != '\0' && !apr_isspace(*at))
            at++;
        word = apr_pstrmemdup(p, start, (apr_size_t)(at - start));
    }
    while (apr_isspace(*at))
        at++;
    *line = at;
    return word;
}

AP_DECLARE(char *) ap_getword_conf_nc(apr_pool_t *p, char **line)
{
    return ap_getword_conf(p, (const char **)line);
}

/* One token of a header's list: up to ',' or ';' (or white space unless
   accept_white), quoted strings kept whole; the white space before it skipped, and
   after it. */
AP_DECLARE(char *) ap_get_token(apr_pool_t *p, const char **accept_line, int accept_white)
{
    const char *at = *accept_line, *start, *end;
    int quoted = 0;
    while (apr_isspace(*at))
        at++;
    start = at;
    for (; *at != '\0'; at++) {
        if (*at == '"')
            quoted = !quoted;
        else if (!quoted && (*at == ',' || *at == ';' || (!accept_white && apr_isspace(*at))))
            break;
    }
    end = at;
    while (apr_isspace(*at))
        at++;
    *accept_line = at;
    return apr_pstrmemdup(p, start, (apr_size_t)(end - start));
}

/* An HTTP token's character (RFC 9110's tchar). */
static int token_char(char c)
{
    return c != '\0' && (apr_isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Whether tok, compared without case, starts where a token of the line starts and
   ends where one ends. */
AP_DECLARE(int) ap_find_token(apr_pool_t *p, const char *line, const char *tok)
{
    size_t length = strlen(tok);
    const char *at;
    (void)p;
    if (line == NULL || length == 0)
        return 0;
    for (at = line; *at != '\0'; at++)
        if ((at == line || !token_char(at[-1])) && token_char(*at)
                && ap_cstr_casecmpn(at, tok, length) == 0 && !token_char(at[length]))
            return 1;
    return 0;
}

/* Case and characters. */

AP_DECLARE(void) ap_str_tolower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)apr_tolower(*s);
}

AP_DECLARE(void) ap_str_toupper(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)apr_toupper(*s);
}

AP_DECLARE(int) ap_ind(const char *str, char c)
{
    const char *at = strchr(str, c);
    return at == NULL ? -1 : (int)(at - str);
}

AP_DECLARE(int) ap_rind(const char *str, char c)
{
    const char *at = strrchr(str, c);
    return at == NULL ? -1 : (int)(at - str);
}

AP_DECLARE(int) ap_cstr_casecmpn(const char *s1, const char *s2, apr_size_t n)
{
    for (; n > 0; n--, s1++, s2++) {
        int difference = apr_tolower(*s1) - apr_tolower(*s2);
        if (difference != 0 || *s1 == '\0')
            return difference;
    }
    return 0;
}

AP_DECLARE(int) ap_cstr_casecmp(const char *s1, const char *s2)
{
    return ap_cstr_casecmpn(s1, s2, (apr_size_t)-1);
}

AP_DECLARE(apr_status_t) ap_pstr2_alnum(apr_pool_t *p, const char *src, const char **dest)
{
    char *out = apr_pstrdup(p, src), *at;
    for (at = out; *at != '\0'; at++)
        if (!apr_isalnum(*at))
            *at = '_';
    *dest = out;
    return APR_SUCCESS;
}

/* Wildcards: '*' any run, '?' one character; 0 a match, 1 none, -1 none possible. */

static int match(const char *str, const char *expected, int nocase)
{
    for (; *expected != '\0'; str++, expected++) {
        if (*expected == '*') {
            while (*expected == '*')
                expected++;
            if (*expected == '\0')
                return 0;
            for (; *str != '\0'; str++) {
                int found = match(str, expected, nocase);
                if (found != 1)
                    return found;
            }
            return -1;
        }
        if (*str == '\0')
            return -1;
        if (*expected != '?' && (nocase ? apr_tolower(*str) != apr_tolower(*expected)
                                        : *str != *expected))
            return 1;
    }
    return *str != '\0';
}

AP_DECLARE(int) ap_strcmp_match(const char *str, const char *expected)
{
    return match(str, expected, 0);
}

AP_DECLARE(int) ap_strcasecmp_match(const char *str, const char *expected)
{
    return match(str, expected, 1);
}

AP_DECLARE(int) ap_is_matchexp(const char *str)
{
    return strpbrk(str, "*?") != NULL;
}

/* Paths and URLs. */

AP_DECLARE(char *) ap_make_full_path(apr_pool_t *a, const char *dir, const char *f)
{
    size_t length = strlen(dir);
    if (length > 0 && dir[length - 1] == '/')
        return apr_pstrcat(a, dir, f, NULL);
    return apr_pstrcat(a, dir, "/", f, NULL);
}

AP_DECLARE(int) ap_is_url(const char *u)
{
    const char *at = u;
    while (apr_isalnum(*at) || *at == '+' || *at == '-' || *at == '.')
        at++;
    return at != u && *at == ':';
}

static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* %XX decoded in place; HTTP_BAD_REQUEST for a bad escape, HTTP_NOT_FOUND for
   one that decodes to a character in `refused`. */
static int unescape(char *url, const char *refused)
{
    char *in = url, *out = url;
    int status = OK;
    for (; *in != '\0'; in++, out++) {
        if (*in != '%') {
            *out = *in;
            continue;
        }
        if (!apr_isxdigit(in[1]) || !apr_isxdigit(in[2])) {
            status = HTTP_BAD_REQUEST;
            *out = *in;
            continue;
        }
        *out = (char)(hex_value(in[1]) * 16 + hex_value(in[2]));
        in += 2;
        if (*out == '\0' || (refused != NULL && strchr(refused, *out) != NULL))
            status = HTTP_NOT_FOUND;
    }
    *out = '\0';
    return status;
}

AP_DECLARE(int) ap_unescape_url(char *url)
{
    return unescape(url, "/");
}

AP_DECLARE(int) ap_unescape_urlencoded(char *query)
{
    char *at;
    for (at = query; *at != '\0'; at++)
        if (*at == '+')
            *at = ' ';
    return unescape(query, NULL) == HTTP_BAD_REQUEST ? HTTP_BAD_REQUEST : OK;
}

/* Each byte not in `keep` (and not alphanumeric) as %XX; ' ' as '+' when plus. */
static char *escape(apr_pool_t *p, const char *s, const char *keep, int plus)
{
    static const char digits[] = "0123456789abcdef";  /* httpd's are lower-case */
    char *out = apr_palloc(p, 3 * strlen(s) + 1), *at = out;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || strchr(keep, c) != NULL)
            *at++ = (char)c;
        else if (plus && c == ' ')
            *at++ = '+';
        else {
            *at++ = '%';
            *at++ = digits[c >> 4];
            *at++ = digits[c & 15];
        }
    }
    *at = '\0';
    return out;
}

#define SEGMENT_KEEP "-._~!$&'()*+,=:@"

AP_DECLARE(char *) ap_escape_path_segment(apr_pool_t *p, const char *s)
{
    return escape(p, s, SEGMENT_KEEP, 0);
}

AP_DECLARE(char *) ap_os_escape_path(apr_pool_t *p, const char *path, int partial)
{
    char *escaped = escape(p, path, SEGMENT_KEEP ";/", 0);
    const char *colon = strchr(path, ':'), *slash = strchr(path, '/');
    /* a whole path whose first segment has a colon would read as a scheme */
    if (!partial && colon != NULL && (slash == NULL || colon < slash))
        return apr_pstrcat(p, "./", escaped, NULL);
    return escaped;
}

AP_DECLARE(char *) ap_escape_urlencoded(apr_pool_t *p, const char *s)
{
    return escape(p, s, "-._*", 1);  /* HTML's form encoding */
}

AP_DECLARE(char *) ap_escape_html2(apr_pool_t *p, const char *s, int toasc)
{
    char *out = apr_palloc(p, 6 * strlen(s) + 1), *at = out;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        const char *entity = c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;"
                           : c == '"' ? "&quot;" : NULL;
        if (entity != NULL)
            at += strlen(strcpy(at, entity));
        else if (toasc && c > 127)
            at += sprintf(at, "&#%u;", c);
        else
            *at++ = (char)c;
    }
    *at = '\0';
    return out;
}

/* A log item: quotes and backslashes escaped, control and non-ASCII bytes as
   \xHH (\n, \t... by name). */
AP_DECLARE(char *) ap_escape_logitem(apr_pool_t *p, const char *str)
{
    char *out, *at;
    if (str == NULL)
        return NULL;
    out = at = apr_palloc(p, 4 * strlen(str) + 1);
    for (; *str != '\0'; str++) {
        unsigned char c = (unsigned char)*str;
        const char *named = c == '\b' ? "\\b" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : c == '\v' ? "\\v" : c == '"' ? "\\\""
                          : c == '\\' ? "\\\\" : NULL;
        if (named != NULL)
            at += strlen(strcpy(at, named));
        else if (c < 32 || c > 126)
            at += sprintf(at, "\\x%02x", c);
        else
            *at++ = (char)c;
    }
    *at = '\0';
    return out;
}

AP_DECLARE(char *) ap_escape_shell_cmd(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *at = out;
    for (; *s != '\0'; s++) {
        if (strchr("&;`'\"|*?~<>^()[]{}$\\\n", *s) != NULL)
            *at++ = '\\';
        *at++ = *s;
    }
    *at = '\0';
    return out;
}

/* Every '"' not already escaped gets a backslash. */
AP_DECLARE(char *) ap_escape_quotes(apr_pool_t *p, const char *instring)
{
    char *out = apr_palloc(p, 2 * strlen(instring) + 1), *at = out;
    for (; *instring != '\0'; instring++) {
        if (instring[0] == '\\' && instring[1] != '\0') {
            *at++ = *instring++;
            *at++ = *instring;
            continue;
        }
        if (*instring == '"')
            *at++ = '\\';
        *at++ = *instring;
    }
    *at = '\0';
    return out;
}

/* Base64. */

AP_DECLARE(char *) ap_pbase64decode(apr_pool_t *p, const char *bufcoded)
{
    char *decoded = apr_palloc(p, (apr_size_t)apr_base64_decode_len(bufcoded));
    int length = apr_base64_decode(decoded, bufcoded);
    decoded[length] = '\0';
    return decoded;
}

AP_DECLARE(char *) ap_pbase64encode(apr_pool_t *p, char *string)
{
    int length = (int)strlen(string);
    char *encoded = apr_palloc(p, (apr_size_t)apr_base64_encode_len(length));
    apr_base64_encode(encoded, string, length);
    return encoded;
}
