/*
 * The same calls into httpd's API, run by httpd (mod_ap_battery.c) and by geows'
 * httpd runtime (ap_battery_plugin.c): tests/test_httpd_runtime.py compares what
 * they answer. Each line is a call and its result.
 */

#ifndef AP_BATTERY_H
#define AP_BATTERY_H

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "util_cfgtree.h"
#include "apr_strings.h"

typedef struct {
    const char *text;
    const char *lower;
    int number;
    int flag;
    char small_flag;
    const char *file;
} battery_slots;

#define BATTERY_SLOT(field) ((void *)APR_OFFSETOF(battery_slots, field))

static char *battery_words(apr_pool_t *p, const char *name, const char *line,
                           char *(*next)(apr_pool_t *, const char **))
{
    char *out = apr_pstrcat(p, name, "(", line, "):", NULL);
    int n;
    for (n = 0; n < 6 && *line != '\0'; n++)
        out = apr_pstrcat(p, out, " [", next(p, &line), "]", NULL);
    return apr_pstrcat(p, out, " rest=[", line, "]\n", NULL);
}

static char *battery_getword_eq(apr_pool_t *p, const char **line)
{
    return ap_getword(p, line, '=');
}

static char *battery_getword_nulls_eq(apr_pool_t *p, const char **line)
{
    return ap_getword_nulls(p, line, '=');
}

static char *battery_token(apr_pool_t *p, const char **line)
{
    char *token = ap_get_token(p, line, 1);
    if (**line == ',' || **line == ';')
        (*line)++;
    return token;
}

static char *battery_unescape(apr_pool_t *p, const char *name, const char *url,
                              int (*unescape)(char *))
{
    char *copy = apr_pstrdup(p, url);
    int status = unescape(copy);
    return apr_psprintf(p, "%s(%s): %d [%s]\n", name, url, status, copy);
}

static const char *ap_battery(apr_pool_t *p)
{
    static const char *const conf_lines[] = {"  \"quoted \\\" word\" next 'single \\' q' plain",
                                             "\"unterminated word", "a\\ b  c"};
    static const char *const tokens[] = {"websocket", "WebSocket", "keep-alive", "upgrade",
                                         "d", "b=c", "x"};
    static const char *const match_pairs[][2] = {
        {"hello.c", "*.c"}, {"hello.c", "h?llo.*"}, {"abc", "a*d"}, {"HELLO", "h*o"},
        {"", "*"}, {"abc", "abc*"}, {"ab", "abc"}, {"abcd", "abc"}, {"a*c", "a\\*c"}};
    static const char *const escapable[] = {"<a href=\"x\">&\xc3\xa9</a>'",
                                            "a\"b\\c\n\t\x01\x7f\xc3\xa9 end",
                                            "rm -rf *; echo $HOME `id` | x > y & (z) [w] {v} ~u ^t #s !r",
                                            "a b/c?d#e%f:g@h+i&j=k;l,m~n'o(p)q*r!s$t\"u<v>",
                                            "x:y/z w", "/abs/x:y", "\xc3\xa9\xff"};
    static const char *const quotes[] = {"say \"hi\"", "already \\\"done\\\"", "end\\",
                                         "\\\\\"", "none"};
    static const char *const methods[] = {"GET", "HEAD", "POST", "PATCH", "MERGE", "BREW",
                                          "get"};
    static const char *const urls[] = {"http://x", "/x", "a+b.c-d:e", ":x", "1http:x", "x"};
    cmd_parms cmd;
    command_rec command;
    ap_directive_t directive;
    battery_slots slots;
    char *out = "", *copy;
    const char *line, *answer;
    size_t n;

    out = apr_pstrcat(p, out, battery_words(p, "getword", "a==b=c", battery_getword_eq),
                      battery_words(p, "getword_nulls", "a==b=c", battery_getword_nulls_eq),
                      battery_words(p, "getword_white", "  x  y\tz\n", ap_getword_white),
                      battery_words(p, "get_token", "text/html; q=0.5, \"a,b\" , x ",
                                    battery_token),
                      NULL);
    for (n = 0; n < sizeof(conf_lines) / sizeof(*conf_lines); n++)
        out = apr_pstrcat(p, out, battery_words(p, "getword_conf", conf_lines[n],
                                                ap_getword_conf), NULL);
    for (n = 0; n < sizeof(tokens) / sizeof(*tokens); n++)
        out = apr_psprintf(p, "%sfind_token(Upgrade, keep-alive; a;b=c, d websocket, %s): %d\n",
                           out, tokens[n],
                           ap_find_token(p, "Upgrade, keep-alive; a;b=c, d websocket",
                                         tokens[n]));
    for (n = 0; n < sizeof(match_pairs) / sizeof(*match_pairs); n++)
        out = apr_psprintf(p, "%sstrcmp_match(%s, %s): %d %d %d\n", out, match_pairs[n][0],
                           match_pairs[n][1], ap_strcmp_match(match_pairs[n][0],
                                                              match_pairs[n][1]),
                           ap_strcasecmp_match(match_pairs[n][0], match_pairs[n][1]),
                           ap_is_matchexp(match_pairs[n][1]));
    for (n = 0; n < sizeof(escapable) / sizeof(*escapable); n++)
        out = apr_pstrcat(p, out, "escape(", escapable[n], "):\n html [",
                          ap_escape_html2(p, escapable[n], 0), "]\n html_asc [",
                          ap_escape_html2(p, escapable[n], 1), "]\n logitem [",
                          ap_escape_logitem(p, escapable[n]), "]\n shell [",
                          ap_escape_shell_cmd(p, escapable[n]), "]\n segment [",
                          ap_escape_path_segment(p, escapable[n]), "]\n path [",
                          ap_os_escape_path(p, escapable[n], 0), "]\n partial [",
                          ap_os_escape_path(p, escapable[n], 1), "]\n urlencoded [",
                          ap_escape_urlencoded(p, escapable[n]), "]\n base64 [",
                          ap_pbase64encode(p, (char *)escapable[n]), "]\n", NULL);
    for (n = 0; n < sizeof(quotes) / sizeof(*quotes); n++)
        out = apr_pstrcat(p, out, "escape_quotes(", quotes[n], "): [",
                          ap_escape_quotes(p, quotes[n]), "]\n", NULL);
    out = apr_pstrcat(p, out,
                      battery_unescape(p, "unescape_url", "a%20b%41", ap_unescape_url),
                      battery_unescape(p, "unescape_url", "a%2Fb", ap_unescape_url),
                      battery_unescape(p, "unescape_url", "bad%zz%4", ap_unescape_url),
                      battery_unescape(p, "unescape_url", "x%00y", ap_unescape_url),
                      battery_unescape(p, "unescape_url", "a+b", ap_unescape_url),
                      battery_unescape(p, "unescape_urlencoded", "a+b%2Fc%41",
                                       ap_unescape_urlencoded),
                      battery_unescape(p, "unescape_urlencoded", "bad%g1",
                                       ap_unescape_urlencoded),
                      NULL);
    out = apr_psprintf(p, "%sbase64decode: [%s] [%s]\n", out, ap_pbase64decode(p, "aGVsbG8="),
                       ap_pbase64decode(p, "aGk"));
    out = apr_pstrcat(p, out, "make_full_path: [", ap_make_full_path(p, "/a/", "b"), "] [",
                      ap_make_full_path(p, "/a", "b"), "] [", ap_make_full_path(p, "", "b"),
                      "] [", ap_make_full_path(p, "/a", "/b"), "]\n", NULL);
    for (n = 0; n < sizeof(urls) / sizeof(*urls); n++)
        out = apr_psprintf(p, "%sis_url(%s): %d\n", out, urls[n], ap_is_url(urls[n]));
    ap_pstr2_alnum(p, "a-b.c d_e9", &answer);
    copy = apr_pstrdup(p, "MiXeD 9");
    ap_str_tolower(copy);
    out = apr_psprintf(p, "%spstr2_alnum: [%s]\ntolower: [%s]\n", out, answer, copy);
    ap_str_toupper(copy);
    out = apr_psprintf(p, "%stoupper: [%s]\nind: %d %d rind: %d %d\n", out, copy,
                       ap_ind("abcabc", 'c'), ap_ind("abc", 'z'), ap_rind("abcabc", 'c'),
                       ap_rind("abc", 'z'));
    out = apr_psprintf(p, "%scasecmp: %d %d %d %d casecmpn: %d %d\n", out,
                       ap_cstr_casecmp("ABC", "abc") == 0, ap_cstr_casecmp("abc", "abd") < 0,
                       ap_cstr_casecmp("b", "A") > 0, ap_cstr_casecmp("ab", "abc") < 0,
                       ap_cstr_casecmpn("ABCx", "abcy", 3) == 0,
                       ap_cstr_casecmpn("ab", "abc", 3) < 0);
    for (n = 0; n < sizeof(methods) / sizeof(*methods); n++)
        out = apr_psprintf(p, "%smethod_number_of(%s): %d\n", out, methods[n],
                           ap_method_number_of(methods[n]));
    /* not M_GET: httpd names it GET or HEAD, as its hash table's order falls */
    out = apr_psprintf(p, "%smethod_name_of: %s %s\n", out, ap_method_name_of(p, M_PATCH),
                       ap_method_name_of(p, M_MERGE));

    memset(&cmd, 0, sizeof(cmd));
    memset(&command, 0, sizeof(command));
    memset(&slots, 0, sizeof(slots));
    memset(&directive, 0, sizeof(directive));
    directive.directive = "BatteryDirective";
    cmd.directive = &directive;
    command.name = "BatteryDirective";
    command.errmsg = "BatteryDirective is deprecated";
    cmd.cmd = &command;
    cmd.pool = p;
    cmd.temp_pool = p;
    cmd.info = BATTERY_SLOT(text);
    answer = ap_set_string_slot(&cmd, &slots, "Some Text");
    cmd.info = BATTERY_SLOT(lower);
    answer = answer != NULL ? answer : ap_set_string_slot_lower(&cmd, &slots, "MiXeD");
    cmd.info = BATTERY_SLOT(number);
    answer = answer != NULL ? answer : ap_set_int_slot(&cmd, &slots, "-42");
    out = apr_psprintf(p, "%sslots: %s [%s] [%s] %d", out, answer == NULL ? "ok" : answer,
                       slots.text, slots.lower, slots.number);
    out = apr_psprintf(p, "%s int(4x): %s int(''): %s", out,
                       ap_set_int_slot(&cmd, &slots, "4x") != NULL ? "refused" : "taken",
                       ap_set_int_slot(&cmd, &slots, "") != NULL ? "refused" : "taken");
    cmd.info = BATTERY_SLOT(flag);
    ap_set_flag_slot(&cmd, &slots, 7);
    cmd.info = BATTERY_SLOT(small_flag);
    ap_set_flag_slot_char(&cmd, &slots, 1);
    cmd.info = BATTERY_SLOT(file);
    ap_set_file_slot(&cmd, &slots, "conf/battery.txt");
    out = apr_psprintf(p, "%s flag=%d char=%d file=%s deprecated=[%s]\n", out, slots.flag,
                       slots.small_flag,
                       slots.file != NULL && slots.file[0] == '/'
                       && strcmp(slots.file + strlen(slots.file) - 17, "/conf/battery.txt") == 0
                       ? "under-root" : "wrong",
                       ap_set_deprecated(&cmd, &slots, "x"));
    line = ap_server_root_relative(p, "/etc/x");
    out = apr_pstrcat(p, out, "server_root_relative(/etc/x): [", line, "]\n", NULL);
    return out;
}

#endif /* AP_BATTERY_H */
