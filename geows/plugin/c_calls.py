"""Where a C plugin's callbacks run: on the event loop, as a Python plugin's do, when its
library can not wait in them; else in OS threads, as under Apache each connection had one.

A library can wait (sleep, lock a mutex, read a socket or a file, join a thread) only by
calling a function it imports: its undefined dynamic symbols (geows.plugin.elf) say all it
can call. One that imports only functions of NEVER_WAITS (memory, strings, formatting,
clocks, APR's pools, tables and strings, the ap_log_* functions) is called inline; any
other name, one not known here included, sends it to threads. Sans-I/O: it judges the
names it is given.
"""

from __future__ import annotations

from collections.abc import Iterable

# Functions that return without waiting for another thread, process, device or clock.
# malloc's arena lock and a log line's write are waits as short as a Python plugin's.
NEVER_WAITS = frozenset((
    # the compiler's and libc's own
    "__stack_chk_fail", "__assert_fail", "__errno_location", "__ctype_b_loc",
    "__ctype_tolower_loc", "__ctype_toupper_loc", "abort",
    # memory
    "malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc",
    "memcpy", "memmove", "memset", "memcmp", "memchr", "memrchr", "__memcpy_chk",
    "__memmove_chk", "__memset_chk",
    # strings
    "strlen", "strnlen", "strcmp", "strncmp", "strcasecmp", "strncasecmp", "strcpy",
    "strncpy", "stpcpy", "strcat", "strncat", "strchr", "strrchr", "strstr", "strcasestr",
    "strspn", "strcspn", "strpbrk", "strdup", "strndup", "__strdup", "strtok_r", "strerror_r",
    "__strcpy_chk", "__strncpy_chk", "__strcat_chk", "__stpcpy_chk", "tolower", "toupper",
    # numbers and formatting into memory
    "strtol", "strtoul", "strtoll", "strtoull", "strtod", "atoi", "atol", "atoll", "atof",
    "__isoc23_strtol", "__isoc23_strtoul", "__isoc23_strtoll", "__isoc23_strtoull",
    "snprintf", "sprintf", "vsnprintf", "vsprintf", "__snprintf_chk", "__sprintf_chk",
    "__vsnprintf_chk", "__vsprintf_chk", "sscanf", "__isoc99_sscanf", "__isoc23_sscanf",
    "qsort", "bsearch", "abs", "labs", "llabs", "rand", "rand_r", "random", "srand",
    # clocks read, not waited on
    "time", "clock_gettime", "gettimeofday", "gmtime_r", "localtime_r", "strftime",
    # APR: pools, strings, tables, hashes, arrays, base64, the clock
    "apr_palloc", "apr_pcalloc", "apr_pstrdup", "apr_pstrndup", "apr_pstrmemdup",
    "apr_pmemdup", "apr_pstrcat", "apr_psprintf", "apr_pvsprintf", "apr_snprintf",
    "apr_cpystrn", "apr_strtok", "apr_itoa", "apr_ltoa", "apr_off_t_toa", "apr_strtoi64",
    "apr_atoi64", "apr_table_make", "apr_table_get", "apr_table_set", "apr_table_setn",
    "apr_table_add", "apr_table_addn", "apr_table_unset", "apr_table_elts", "apr_table_do",
    "apr_hash_make", "apr_hash_get", "apr_hash_set", "apr_hash_first", "apr_hash_next",
    "apr_hash_this", "apr_hash_count", "apr_array_make", "apr_array_push",
    "apr_base64_encode", "apr_base64_encode_len", "apr_base64_decode",
    "apr_base64_decode_len", "apr_time_now",
    # geows' httpd runtime: log lines go where a Python plugin's go
    "ap_log_error_", "ap_log_rerror_", "ap_log_cerror_", "ap_log_cserror_", "ap_log_perror_",
))


def may_wait(symbols: Iterable[str]) -> list[str]:
    """The names among a library's undefined symbols that may wait, in their order: none,
    and its callbacks run on the event loop."""
    return [name for name in symbols if name not in NEVER_WAITS]
