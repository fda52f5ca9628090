/*
 * A C plugin's crash, said in the error log before its process dies. httpd gave a
 * plugin's crash to one child; geows' worker dies of it too (the master starts another),
 * and this line says whose code it was: the plugin's file, the function and offset,
 * and the locations it serves, or, during a plugin's init function, the WebSocketHandler
 * line that loads it. The plugin is found from the faulting instruction and the stack
 * (dladdr on each frame): a plugin call costs nothing more, and a crash in the plugin's
 * own thread is found as one in its callbacks.
 *
 * The handler runs in a process that is failing: it writes with write() only, makes
 * the stamp itself from a UTC offset taken when it was installed (localtime is not
 * safe there), then lets the signal kill the process as it would have. backtrace()
 * is called once at install, so that it loads its unwinder then, not in the handler.
 */

#include "runtime.h"

#include "apr_strings.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define CRASH_PLUGINS_MAX 64
#define CRASH_FRAMES 64
#define CRASH_LINE_MAX 4096

static const struct {
    int number;
    const char *name;
} crash_signals[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"},
                     {SIGILL, "SIGILL"}, {SIGABRT, "SIGABRT"}};
#define CRASH_SIGNALS (sizeof(crash_signals) / sizeof(crash_signals[0]))

static struct {
    const char *path;     /* as geows dlopen'ed it: what dladdr answers */
    const char *serving;  /* "<Location /a> (httpd.conf:12)", the locations it serves */
} plugins[CRASH_PLUGINS_MAX];
static int plugin_count;
static char loading[1024];  /* the init function running, "FILE:LINE: WebSocketHandler: ..." */
static int report_fd = -1;
static long utc_offset;
static const char *ending;
static char alternate_stack[64 * 1024];

/* The line being made: text appended, cut at its end. */
typedef struct {
    char text[CRASH_LINE_MAX];
    size_t used;
} line_t;

static void add(line_t *line, const char *text)
{
    size_t size = strlen(text);
    if (size > sizeof(line->text) - 1 - line->used)
        size = sizeof(line->text) - 1 - line->used;
    memcpy(line->text + line->used, text, size);
    line->used += size;
}

static void add_number(line_t *line, uint64_t value, unsigned int base, int width)
{
    char digits[32];
    int at = sizeof(digits) - 1;
    digits[at] = '\0';
    do {
        digits[--at] = "0123456789abcdef"[value % base];
        value /= base;
        width--;
    } while ((value != 0 || width > 0) && at > 0);
    add(line, digits + at);
}

/* httpd's stamp, "[Mon Dec 07 20:30:00.123456 2026] ", in local time. */
static void add_stamp(line_t *line)
{
    static const char *days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                   "Sep", "Oct", "Nov", "Dec"};
    struct timespec now;
    int64_t seconds, day, era, of_era, year_of_era, of_year, mp, month, year;
    clock_gettime(CLOCK_REALTIME, &now);
    seconds = (int64_t)now.tv_sec + utc_offset;
    day = seconds / 86400;
    /* days to a civil date (H. Hinnant's days_from_civil, inverted) */
    era = (day + 719468) / 146097;
    of_era = day + 719468 - era * 146097;
    year_of_era = (of_era - of_era / 1460 + of_era / 36524 - of_era / 146096) / 365;
    of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    mp = (5 * of_year + 2) / 153;
    month = mp < 10 ? mp + 3 : mp - 9;
    year = year_of_era + era * 400 + (month <= 2);
    add(line, "[");
    add(line, days[day % 7]);
    add(line, " ");
    add(line, months[month - 1]);
    add(line, " ");
    add_number(line, (uint64_t)(of_year - (153 * mp + 2) / 5 + 1), 10, 2);
    add(line, " ");
    add_number(line, (uint64_t)(seconds % 86400 / 3600), 10, 2);
    add(line, ":");
    add_number(line, (uint64_t)(seconds % 3600 / 60), 10, 2);
    add(line, ":");
    add_number(line, (uint64_t)(seconds % 60), 10, 2);
    add(line, ".");
    add_number(line, (uint64_t)(now.tv_nsec / 1000), 10, 6);
    add(line, " ");
    add_number(line, (uint64_t)year, 10, 4);
    add(line, "] ");
}

/* The plugin whose code `address` is in, or -1; `found` says where. */
static int plugin_at(void *address, Dl_info *found)
{
    int n;
    if (address == NULL || dladdr(address, found) == 0 || found->dli_fname == NULL)
        return -1;
    for (n = 0; n < plugin_count; n++)
        if (strcmp(found->dli_fname, plugins[n].path) == 0)
            return n;
    return -1;
}

static void *faulting_instruction(void *context)
{
#if defined(__x86_64__)
    return (void *)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)((ucontext_t *)context)->uc_mcontext.pc;
#else
    (void)context;
    return NULL;
#endif
}

static void add_place(line_t *line, void *address, const Dl_info *found)
{
    const char *file = strrchr(found->dli_fname, '/');
    if (found->dli_sname != NULL) {
        add(line, found->dli_sname);
        add(line, "+0x");
        add_number(line, (uint64_t)((char *)address - (char *)found->dli_saddr), 16, 1);
        add(line, " ");
    }
    add(line, "(");
    add(line, file != NULL ? file + 1 : found->dli_fname);
    add(line, "+0x");
    add_number(line, (uint64_t)((char *)address - (char *)found->dli_fbase), 16, 1);
    add(line, ")");
}

static void on_crash(int signum, siginfo_t *info, void *context)
{
    void *frames[CRASH_FRAMES];
    void *address = faulting_instruction(context);
    Dl_info found;
    int frame = 0, count, plugin;
    size_t n;
    line_t line;
    line.used = 0;
    plugin = plugin_at(address, &found);
    count = backtrace(frames, CRASH_FRAMES);
    while (plugin < 0 && frame < count) {
        address = frames[frame++];
        plugin = plugin_at(address, &found);
    }
    add_stamp(&line);
    add(&line, "[plugin:crit] [pid ");
    add_number(&line, (uint64_t)getpid(), 10, 1);
    add(&line, "] ");
    if (loading[0] != '\0') {
        add(&line, loading);
        add(&line, " crashed (");
    } else if (plugin >= 0) {
        add(&line, "C plugin ");
        add(&line, plugins[plugin].path);
        add(&line, " crashed (");
    } else {
        add(&line, "crashed, in no C plugin's code (");
    }
    for (n = 0; n < CRASH_SIGNALS; n++)
        if (crash_signals[n].number == signum)
            add(&line, crash_signals[n].name);
    if (signum == SIGSEGV || signum == SIGBUS) {
        add(&line, " at address 0x");
        add_number(&line, (uint64_t)(uintptr_t)info->si_addr, 16, 1);
    }
    add(&line, ")");
    if (plugin >= 0) {
        add(&line, " in ");
        add_place(&line, address, &found);
    }
    if (plugin >= 0 && loading[0] == '\0') {
        add(&line, ", serving ");
        add(&line, plugins[plugin].serving);
    }
    /* a crash while loading: what follows is the starter's to say (-t, the master) */
    add(&line, ": ");
    add(&line, loading[0] != '\0' ? "the process ends" : ending);
    add(&line, "\n");
    if (write(report_fd, line.text, line.used) < 0) {
        /* nowhere left to say it: the master still logs how the process died */
    }
    /* SA_RESETHAND put the default action back: the signal, raised again (a fault:
       the instruction runs again), kills the process as it would have. */
    raise(signum);
}

void geows_crash_plugin(const char *path, const char *serving)
{
    if (plugin_count < CRASH_PLUGINS_MAX) {
        plugins[plugin_count].path = apr_pstrdup(geows_pconf, path);
        plugins[plugin_count].serving = apr_pstrdup(geows_pconf, serving);
        plugin_count++;
    }
}

void geows_crash_loading(const char *init)
{
    if (init == NULL)
        loading[0] = '\0';
    else
        apr_cpystrn(loading, init, sizeof(loading));
}

int geows_crash_report_to(int fd, long offset, const char *then)
{
    struct sigaction action;
    stack_t stack;
    void *warm[1];
    size_t n;
    plugin_count = 0;  /* this config's plugins are named next */
    report_fd = fd;
    utc_offset = offset;
    ending = apr_pstrdup(geows_pconf, then);
    backtrace(warm, 1);
    /* This thread's overflow still reaches the handler; other threads' stacks have
       none of their own to run it on (their overflow kills without a line). */
    stack.ss_sp = alternate_stack;
    stack.ss_size = sizeof(alternate_stack);
    stack.ss_flags = 0;
    if (sigaltstack(&stack, NULL) != 0)
        return -1;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_crash;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (n = 0; n < CRASH_SIGNALS; n++)
        if (sigaction(crash_signals[n].number, &action, NULL) != 0)
            return -1;
    return 0;
}
