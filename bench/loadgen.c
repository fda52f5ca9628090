/*
 * loadgen: a single-threaded epoll load generator for WebSocket echo servers.
 *
 * Modes (--mode):
 *   rfc6455  client handshake with Sec-WebSocket-Key (checks 101 and
 *            Sec-WebSocket-Accept), masked text frames, answers pings
 *   hixie76  draft-76 handshake (Key1/Key2/key3, checks 101 and the MD5
 *            challenge answer), frames 0x00 text 0xFF
 *   tcp      raw bytes, no handshake (for a plain TCP echo)
 *
 * Workloads: by default each open connection keeps --inflight messages of
 * --size bytes in flight for --seconds and counts the echoes (1 = ping-pong).
 * With --idle it opens the connections, holds them for --seconds watching for
 * drops, then sends one message on each to prove it still echoes.
 *
 * Every echoed message is compared with what was sent; a difference counts as
 * an error. Progress lines go to stderr ("#window-start", "#ready open=N",
 * "#window-end") so a driver can sample the server at the right moments; the
 * result is one JSON line on stdout.
 *
 * --serve runs a C epoll TCP echo instead, the calibration peer that shows the
 * load generator's own ceiling.
 *
 * It only connects to 127.0.0.0/8, and every phase is bounded in time; an
 * alarm ends the process if anything ever hangs.
 *
 * Build: cc -O2 -o loadgen loadgen.c -lm
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ hashes */

static uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* RFC 1321 MD5, one shot. */
static void md5(const unsigned char *msg, size_t len, unsigned char out[16]) {
    static uint32_t K[64];
    static int ready;
    static const int R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                              5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    if (!ready) {
        for (int i = 0; i < 64; i++) K[i] = (uint32_t)(fabs(sin((double)(i + 1))) * 4294967296.0);
        ready = 1;
    }
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t total = ((len + 8) / 64 + 1) * 64;
    unsigned char *buf = calloc(total, 1);
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[total - 8 + i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++) {
            const unsigned char *p = buf + off + 4 * i;
            w[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        for (int i = 0; i < 64; i++) {
            uint32_t f;
            int g;
            if (i < 16) { f = (b & c) | (~b & d); g = i; }
            else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
            else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
            else { f = c ^ (b | ~d); g = (7 * i) % 16; }
            f = f + a + K[i] + w[g];
            a = d; d = c; c = b;
            b = b + rotl32(f, R[i]);
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    }
    free(buf);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (8 * j));
}

/* FIPS 180 SHA-1, one shot. */
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    unsigned char *buf = calloc(total, 1);
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++) {
            const unsigned char *p = buf + off + 4 * i;
            w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
        }
        for (int i = 16; i < 80; i++) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = rotl32(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rotl32(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    free(buf);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

static void base64(const unsigned char *in, size_t len, char *out) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = T[(v >> 18) & 63];
        out[o++] = T[(v >> 12) & 63];
        out[o++] = i + 1 < len ? T[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? T[v & 63] : '=';
    }
    out[o] = 0;
}

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static void ws_accept(const char *key, char out[29]) {
    char cat[128];
    unsigned char dig[20];
    int n = snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    sha1((const unsigned char *)cat, (size_t)n, dig);
    base64(dig, 20, out);
}

/* ------------------------------------------------------------ utilities */

static uint32_t rng_state = 0x9E3779B9u;
static uint32_t rnd(void) {
    uint32_t x = rng_state;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    return rng_state = x;
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(64);
}

/* --------------------------------------------------------------- options */

enum { M_RFC6455, M_HIXIE76, M_TCP };
static const char *MODE_NAMES[] = {"rfc6455", "hixie76", "tcp"};

static struct {
    int mode;
    char host[64];
    int port;
    char path[256];
    int conns;
    double seconds;
    int size;
    int inflight;
    int idle;
    int ramp;              /* connections being opened at once */
    double connect_timeout;
    double close_timeout;
    double verify_timeout;
    const char *label;
    const char *per_conn_path; /* --per-conn: each connection's echoes, one a line */
} opt = {M_RFC6455, "127.0.0.1", 0, "/echo", 100, 10, 32, 1, 0, 100, 30, 5, 10, NULL, NULL};

/* ------------------------------------------------------------ connection */

enum { S_NEW, S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSING, S_DONE };

struct conn {
    int fd;
    int id;
    int state;
    int server_closed;
    unsigned char *rbuf;
    size_t rlen, rcap;
    unsigned char *wbuf;
    size_t wlen, woff, wcap;
    int want_out;          /* EPOLLOUT registered */
    uint64_t sent, recvd;  /* messages */
    uint64_t *send_ts;     /* ring of send times, size inflight */
    char expect[32];       /* rfc6455: Sec-WebSocket-Accept; hixie76: 16-byte answer */
};

static struct conn *conns;
static int epfd;

/* phases of the whole run */
enum { P_CONNECT, P_RUN, P_HOLD, P_VERIFY, P_CLOSE };
static int phase = P_CONNECT;

/* counters */
static struct {
    long conn_ok, conn_failed, connect_errors, handshake_status, handshake_bad_answer,
        handshake_other, mismatches, protocol_errors, dropped, write_errors, pings_answered,
        closed_clean, close_timeouts, verify_ok;
    uint64_t messages;     /* verified echoes inside the window */
    uint64_t bytes;
    char first_error[200];
} st;

static void note_error(const char *fmt, ...) {
    if (st.first_error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st.first_error, sizeof st.first_error, fmt, ap);
    va_end(ap);
    for (char *p = st.first_error; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = ' ';
}

/* latency histogram: 1 us bins up to 1 s, then 1 ms bins up to 10 minutes (a
 * saturated server may keep a message waiting for seconds) */
#define HIST_MAX 1000000
#define HIST_MS_MAX 600000
static uint32_t *hist, *hist_ms;
static uint64_t hist_n, hist_over, lat_max_us;

static void record_latency(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us > lat_max_us) lat_max_us = us;
    if (us < HIST_MAX) hist[us]++;
    else if (us / 1000 < HIST_MS_MAX) hist_ms[us / 1000]++;
    else hist_over++;
    hist_n++;
}

static long percentile(double p) {
    if (!hist_n) return -1;
    uint64_t want = (uint64_t)ceil(p * (double)hist_n);
    if (want < 1) want = 1;
    uint64_t acc = 0;
    for (long i = 0; i < HIST_MAX; i++) {
        acc += hist[i];
        if (acc >= want) return i;
    }
    for (long i = HIST_MAX / 1000; i < HIST_MS_MAX; i++) {
        acc += hist_ms[i];
        if (acc >= want) return i * 1000;
    }
    return (long)lat_max_us;
}

/* payload of message `seq` on connection `id`: printable ASCII, so valid
 * UTF-8 and free of 0x00/0xFF for draft-76 */
static void fill_payload(unsigned char *p, int size, int id, uint64_t seq) {
    for (int i = 0; i < size; i++) p[i] = (unsigned char)('a' + (unsigned)((i + seq + (uint64_t)id) % 26));
    char head[40];
    int n = snprintf(head, sizeof head, "%x:%llx:", id, (unsigned long long)seq);
    if (n > size) n = size;
    memcpy(p, head, (size_t)n);
}

static void set_events(struct conn *c, int out) {
    if (c->want_out == out) return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void wbuf_add(struct conn *c, const void *data, size_t n) {
    if (c->wlen + n > c->wcap) {
        if (c->woff) {
            memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wlen + n > c->wcap) {
            size_t cap = c->wcap ? c->wcap : 256;
            while (cap < c->wlen + n) cap *= 2;
            c->wbuf = realloc(c->wbuf, cap);
            c->wcap = cap;
        }
    }
    memcpy(c->wbuf + c->wlen, data, n);
    c->wlen += n;
}

static void conn_finish(struct conn *c);

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* write what is queued; 0 ok, -1 when the connection broke */
static int flush_out(struct conn *c) {
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) { c->woff += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, 1);
            return 0;
        }
        return -1;
    }
    c->woff = c->wlen = 0;
    if (c->state != S_CONNECTING) set_events(c, 0);
    return 0;
}

static void queue_frame(struct conn *c, int opcode, const unsigned char *payload, size_t len) {
    unsigned char hdr[14];
    size_t h = 0;
    if (opt.mode == M_TCP) {
        wbuf_add(c, payload, len);
        return;
    }
    if (opt.mode == M_HIXIE76) {
        if (opcode == 8) {
            wbuf_add(c, "\xff\x00", 2);
            return;
        }
        unsigned char z = 0x00, ff = 0xff;
        wbuf_add(c, &z, 1);
        wbuf_add(c, payload, len);
        wbuf_add(c, &ff, 1);
        return;
    }
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) hdr[h++] = (unsigned char)(0x80 | len);
    else if (len < 65536) { hdr[h++] = 0x80 | 126; hdr[h++] = (unsigned char)(len >> 8); hdr[h++] = (unsigned char)len; }
    else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t m = rnd();
    unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16), (unsigned char)(m >> 24)};
    memcpy(hdr + h, mask, 4);
    h += 4;
    wbuf_add(c, hdr, h);
    size_t start = c->wlen;
    wbuf_add(c, payload, len);
    for (size_t i = 0; i < len; i++) c->wbuf[start + i] ^= mask[i & 3];
}

static void queue_message(struct conn *c) {
    unsigned char p[65536 + 64];
    fill_payload(p, opt.size, c->id, c->sent);
    c->send_ts[c->sent % (uint64_t)opt.inflight] = now_ns();
    c->sent++;
    queue_frame(c, 1, p, (size_t)opt.size);
}

/* one whole message received */
static void on_message(struct conn *c, const unsigned char *data, size_t len) {
    unsigned char expect[65536 + 64];
    if (c->recvd >= c->sent) {
        st.protocol_errors++;
        note_error("conn %d: message that was never sent", c->id);
        return;
    }
    fill_payload(expect, opt.size, c->id, c->recvd);
    uint64_t sent_at = c->send_ts[c->recvd % (uint64_t)opt.inflight];
    c->recvd++;
    if (len != (size_t)opt.size || memcmp(expect, data, len) != 0) {
        st.mismatches++;
        note_error("conn %d: echo %llu differs from what was sent", c->id, (unsigned long long)(c->recvd - 1));
    } else if (phase == P_RUN) {
        st.messages++;
        st.bytes += len;
        record_latency(now_ns() - sent_at);
    } else if (phase == P_VERIFY) {
        st.verify_ok++;
    }
    if (phase == P_RUN) queue_message(c);
}

/* parse frames in rbuf; returns bytes consumed, or -1 on a fatal protocol error */
static long parse_frames(struct conn *c) {
    unsigned char *b = c->rbuf;
    size_t n = c->rlen, off = 0;
    if (opt.mode == M_TCP) {
        while (n - off >= (size_t)opt.size) {
            on_message(c, b + off, (size_t)opt.size);
            off += (size_t)opt.size;
        }
        return (long)off;
    }
    if (opt.mode == M_HIXIE76) {
        while (off < n) {
            unsigned char t = b[off];
            if (t == 0x00) {
                unsigned char *end = memchr(b + off + 1, 0xff, n - off - 1);
                if (!end) break;
                on_message(c, b + off + 1, (size_t)(end - (b + off + 1)));
                off = (size_t)(end - b) + 1;
            } else if (t == 0xff) {
                if (n - off < 2) break;
                if (b[off + 1] != 0x00) { note_error("conn %d: bad 0xFF frame", c->id); return -1; }
                c->server_closed = 1;
                off += 2;
            } else {
                note_error("conn %d: unexpected frame type 0x%02x", c->id, t);
                return -1;
            }
        }
        return (long)off;
    }
    while (n - off >= 2) {
        unsigned char b0 = b[off], b1 = b[off + 1];
        int fin = b0 & 0x80, op = b0 & 0x0f, masked = b1 & 0x80;
        uint64_t len = b1 & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n - off < 4) break;
            len = (uint64_t)b[off + 2] << 8 | b[off + 3];
            h = 4;
        } else if (len == 127) {
            if (n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | b[off + 2 + i];
            h = 10;
        }
        if (masked) { note_error("conn %d: server sent a masked frame", c->id); return -1; }
        if (b0 & 0x70) { note_error("conn %d: RSV bits set", c->id); return -1; }
        if (len > (1u << 26)) { note_error("conn %d: frame too large", c->id); return -1; }
        if (n - off < h + len) break;
        const unsigned char *p = b + off + h;
        if (op == 1 || op == 2) {
            if (!fin) { note_error("conn %d: fragmented echo", c->id); return -1; }
            on_message(c, p, (size_t)len);
        } else if (op == 9) {
            queue_frame(c, 10, p, (size_t)len);
            st.pings_answered++;
        } else if (op == 10) {
            /* unsolicited pong: ignore */
        } else if (op == 8) {
            c->server_closed = 1;
        } else {
            note_error("conn %d: unexpected opcode %d", c->id, op);
            return -1;
        }
        off += h + (size_t)len;
    }
    return (long)off;
}

static void conn_fail(struct conn *c, long *counter) {
    if (counter) (*counter)++;
    if (c->state == S_CONNECTING || c->state == S_HANDSHAKE) st.conn_failed++;
    conn_finish(c);
}

/* look for "name:" in the response head (case-insensitive); copies the value */
static int header_value(const char *head, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            while (l && (v[l - 1] == ' ' || v[l - 1] == '\t')) l--;
            if (l >= outlen) l = outlen - 1;
            memcpy(out, v, l);
            out[l] = 0;
            return 1;
        }
    }
    return 0;
}

static void became_open(struct conn *c) {
    c->state = S_OPEN;
    st.conn_ok++;
}

/* returns bytes of the response consumed, 0 if incomplete, -1 failed */
static long parse_handshake(struct conn *c) {
    unsigned char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen > 16384) { note_error("conn %d: response head too long", c->id); return -1; }
        return 0;
    }
    size_t headlen = (size_t)(end - c->rbuf) + 4;
    size_t need = headlen + (opt.mode == M_HIXIE76 ? 16 : 0);
    char head[16384];
    size_t hl = headlen < sizeof head ? headlen : sizeof head - 1;
    memcpy(head, c->rbuf, hl);
    head[hl] = 0;
    char *eol = strstr(head, "\r\n");
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        if (eol) *eol = 0;
        note_error("handshake answered '%s'", head);
        st.handshake_status++;
        return -1;
    }
    if (c->rlen < need) return 0;
    if (opt.mode == M_RFC6455) {
        char acc[128];
        if (!header_value(head, "Sec-WebSocket-Accept", acc, sizeof acc) || strcmp(acc, c->expect) != 0) {
            note_error("conn %d: bad Sec-WebSocket-Accept", c->id);
            st.handshake_bad_answer++;
            return -1;
        }
    } else {
        if (memcmp(c->rbuf + headlen, c->expect, 16) != 0) {
            note_error("conn %d: wrong draft-76 challenge answer", c->id);
            st.handshake_bad_answer++;
            return -1;
        }
    }
    became_open(c);
    return (long)need;
}

/* draft-76 key: number * spaces, with the spaces and some noise inserted */
static uint32_t hixie_key(char *out) {
    int spaces = 1 + (int)(rnd() % 12);
    uint32_t number = rnd() % (0xFFFFFFFFu / (uint32_t)spaces);
    char digits[32];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)number * (unsigned long long)spaces);
    size_t nd = strlen(digits), o = 0;
    int noise = 1 + (int)(rnd() % 8);
    out[o++] = digits[0];
    for (size_t i = 1; i < nd; i++) {
        if (noise && rnd() % 2) { out[o++] = (char)("!#$%&'()*+,-./:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rnd() % 47]); noise--; }
        if (spaces > 1 && rnd() % 2) { out[o++] = ' '; spaces--; }
        out[o++] = digits[i];
    }
    while (spaces-- > 0) { out[o++] = ' '; out[o++] = 'x'; } /* never leading/trailing */
    out[o] = 0;
    return number;
}

static void send_handshake(struct conn *c) {
    char req[1024];
    int n;
    if (opt.mode == M_RFC6455) {
        unsigned char raw[16];
        char key[32];
        for (int i = 0; i < 16; i++) raw[i] = (unsigned char)rnd();
        base64(raw, 16, key);
        ws_accept(key, c->expect);
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt.path, opt.host, opt.port, key);
        wbuf_add(c, req, (size_t)n);
    } else {
        char k1[64], k2[64];
        unsigned char key3[8], chal[16];
        uint32_t n1 = hixie_key(k1), n2 = hixie_key(k2);
        for (int i = 0; i < 8; i++) key3[i] = (unsigned char)rnd();
        for (int i = 0; i < 4; i++) {
            chal[i] = (unsigned char)(n1 >> (24 - 8 * i));
            chal[4 + i] = (unsigned char)(n2 >> (24 - 8 * i));
        }
        memcpy(chal + 8, key3, 8);
        md5(chal, 16, (unsigned char *)c->expect);
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: %s:%d\r\n"
                     "Origin: http://%s:%d\r\nSec-WebSocket-Key1: %s\r\nSec-WebSocket-Key2: %s\r\n\r\n",
                     opt.path, opt.host, opt.port, opt.host, opt.port, k1, k2);
        wbuf_add(c, req, (size_t)n);
        wbuf_add(c, key3, 8);
    }
}

static int pending;      /* connections connecting or handshaking */
static int next_open;    /* next connection index to open */
static struct sockaddr_in addr;

static void conn_start(struct conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error("socket(): %s", strerror(errno));
        st.connect_errors++;
        st.conn_failed++;
        c->state = S_DONE;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->state = S_CONNECTING;
    pending++;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        note_error("connect(): %s", strerror(errno));
        conn_fail(c, &st.connect_errors);
    }
}

static void conn_finish(struct conn *c) {
    if (c->state == S_DONE) return;
    if (c->state == S_CONNECTING || c->state == S_HANDSHAKE) pending--;
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = S_DONE;
    free(c->rbuf);
    free(c->wbuf);
    c->rbuf = c->wbuf = NULL;
    c->rlen = c->rcap = c->wlen = c->woff = c->wcap = 0;
}

static void on_connected(struct conn *c) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        note_error("connect: %s", strerror(err));
        conn_fail(c, &st.connect_errors);
        return;
    }
    if (opt.mode == M_TCP) {
        pending--;
        became_open(c);
        set_events(c, 0);
        return;
    }
    c->state = S_HANDSHAKE;
    send_handshake(c);
    set_events(c, 0);
    if (flush_out(c) < 0) conn_fail(c, &st.handshake_other);
}

/* EOF or error on an open connection */
static void conn_lost(struct conn *c, const char *why) {
    if (c->state == S_CLOSING) {
        st.closed_clean++;
        conn_finish(c);
        return;
    }
    if (c->state == S_CONNECTING || c->state == S_HANDSHAKE) {
        note_error("conn %d: %s during the handshake", c->id, why);
        conn_fail(c, &st.handshake_other);
        return;
    }
    st.dropped++;
    note_error("conn %d: %s (server closed=%d)", c->id, why, c->server_closed);
    conn_finish(c);
}

static void on_readable(struct conn *c) {
    for (;;) {
        if (c->rcap - c->rlen < 2048) {
            size_t cap = c->rcap ? c->rcap * 2 : 4096;
            c->rbuf = realloc(c->rbuf, cap);
            c->rcap = cap;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (n == 0) { conn_lost(c, "EOF"); return; }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            conn_lost(c, strerror(errno));
            return;
        }
        c->rlen += (size_t)n;
        if (c->rlen < c->rcap) break; /* drained */
    }
    if (c->state == S_CLOSING) { c->rlen = 0; return; }
    size_t off = 0;
    if (c->state == S_HANDSHAKE) {
        long r = parse_handshake(c);
        if (r < 0) { conn_fail(c, NULL); return; }
        if (r == 0) return;
        pending--;
        off = (size_t)r;
    }
    if (c->state == S_OPEN && off < c->rlen) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
        off = 0;
        long used = parse_frames(c);
        if (used < 0) {
            st.protocol_errors++;
            st.dropped++;
            conn_finish(c);
            return;
        }
        off = (size_t)used;
    }
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    if (c->wlen > c->woff && flush_out(c) < 0) {
        st.write_errors++;
        conn_lost(c, "write failed");
    }
}

static void run_loop(uint64_t until_ns, int (*done)(void)) {
    struct epoll_event evs[512];
    for (;;) {
        while (phase == P_CONNECT && pending < opt.ramp && next_open < opt.conns) conn_start(&conns[next_open++]);
        if (done && done()) return;
        uint64_t now = now_ns();
        if (now >= until_ns) return;
        uint64_t left_ms = (until_ns - now) / 1000000 + 1;
        int n = epoll_wait(epfd, evs, 512, left_ms > 100 ? 100 : (int)left_ms);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state == S_DONE) continue;
            if (c->state == S_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (c->state != S_DONE && (evs[i].events & EPOLLOUT) && flush_out(c) < 0) {
                st.write_errors++;
                conn_lost(c, "write failed");
            }
        }
    }
}

static int connect_done(void) { return next_open >= opt.conns && pending == 0; }

static int verify_done(void) {
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].state == S_OPEN && conns[i].recvd < conns[i].sent) return 0;
    return 1;
}

static int close_done(void) {
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].state == S_CLOSING) return 0;
    return 1;
}

static int count_open(void) {
    int n = 0;
    for (int i = 0; i < opt.conns; i++) n += conns[i].state == S_OPEN;
    return n;
}

static void progress(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static int selftest(void) {
    unsigned char d[20];
    char hex[41], acc[29];
    int ok = 1;
    md5((const unsigned char *)"", 0, d);
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    ok &= strcmp(hex, "d41d8cd98f00b204e9800998ecf8427e") == 0;
    md5((const unsigned char *)"The quick brown fox jumps over the lazy dog", 43, d);
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    ok &= strcmp(hex, "9e107d9d372bb6826bd81d3542a419d6") == 0;
    sha1((const unsigned char *)"abc", 3, d);
    for (int i = 0; i < 20; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    ok &= strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0;
    ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc); /* RFC 6455 section 1.3 */
    ok &= strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0;
    /* draft-76 section 1.3's example */
    unsigned char chal[16];
    /* draft-76 section 1.3's example:
     * Key1 "18x 6]8vM;54 *(5:  {   U1]8  z [  8" = 1868545188 / 12 = 155712099
     * Key2 "1_ tx7X d  <  nw  334J702) 7]o}` 0" = 1733470270 / 10 = 173347027
     * key3 "Tm[K T2u" -> answer "fQJ,fN/4F4!~K~MH" */
    uint32_t k1 = 155712099u, k2 = 173347027u;
    for (int i = 0; i < 4; i++) { chal[i] = (unsigned char)(k1 >> (24 - 8 * i)); chal[4 + i] = (unsigned char)(k2 >> (24 - 8 * i)); }
    memcpy(chal + 8, "Tm[K T2u", 8);
    md5(chal, 16, d);
    ok &= memcmp(d, "fQJ,fN/4F4!~K~MH", 16) == 0;
    printf("{\"selftest\": %s}\n", ok ? "true" : "false");
    return ok ? 0 : 1;
}

/* --serve: a C epoll TCP echo on 127.0.0.1:PORT for --seconds, the calibration
 * peer that shows how far the load generator itself can go */
static int serve_echo(void) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 511) < 0)
        die("bind/listen: %s", strerror(errno));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[512];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    fprintf(stderr, "listening on %s:%d\n", opt.host, opt.port);
    uint64_t until = now_ns() + (uint64_t)(opt.seconds * 1e9);
    static unsigned char buf[65536];
    while (now_ns() < until) {
        int n = epoll_wait(ep, evs, 512, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(fd);
                continue;
            }
            /* echoes are small; a short write is treated as the peer's problem */
            if (send(fd, buf, (size_t)r, MSG_NOSIGNAL) != r) close(fd);
        }
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --mode rfc6455|hixie76|tcp --port P [--host 127.0.0.1] [--path /echo]\n"
            "               [--connections N] [--seconds S] [--size B] [--inflight K] [--idle]\n"
            "               [--ramp N] [--connect-timeout S] [--label TEXT] [--per-conn FILE]\n"
            "       loadgen --serve --port P [--seconds S]   (a C epoll TCP echo, for calibration)\n"
            "       loadgen --selftest\n");
    exit(64);
}

int main(int argc, char **argv) {
    static struct option lo[] = {
        {"mode", 1, 0, 'm'}, {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"path", 1, 0, 'P'},
        {"connections", 1, 0, 'c'}, {"seconds", 1, 0, 's'}, {"size", 1, 0, 'b'},
        {"inflight", 1, 0, 'k'}, {"idle", 0, 0, 'i'}, {"ramp", 1, 0, 'r'},
        {"connect-timeout", 1, 0, 't'}, {"label", 1, 0, 'l'}, {"per-conn", 1, 0, 'C'}, {"selftest", 0, 0, 'T'}, {"serve", 0, 0, 'S'}, {0, 0, 0, 0}};
    int serve = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'm':
            if (!strcmp(optarg, "rfc6455")) opt.mode = M_RFC6455;
            else if (!strcmp(optarg, "hixie76")) opt.mode = M_HIXIE76;
            else if (!strcmp(optarg, "tcp")) opt.mode = M_TCP;
            else usage();
            break;
        case 'h': snprintf(opt.host, sizeof opt.host, "%s", optarg); break;
        case 'p': opt.port = atoi(optarg); break;
        case 'P': snprintf(opt.path, sizeof opt.path, "%s", optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 's': opt.seconds = atof(optarg); break;
        case 'b': opt.size = atoi(optarg); break;
        case 'k': opt.inflight = atoi(optarg); break;
        case 'i': opt.idle = 1; break;
        case 'r': opt.ramp = atoi(optarg); break;
        case 't': opt.connect_timeout = atof(optarg); break;
        case 'l': opt.label = optarg; break;
        case 'C': opt.per_conn_path = optarg; break;
        case 'T': return selftest();
        case 'S': serve = 1; break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535) usage();
    if (opt.conns < 1 || opt.conns > 60000) die("--connections must be 1..60000");
    if (opt.seconds <= 0 || opt.seconds > 600) die("--seconds must be in (0, 600]");
    if (opt.size < 1 || opt.size > 65536) die("--size must be 1..65536");
    if (opt.inflight < 1 || opt.inflight > 1024) die("--inflight must be 1..1024");
    if (opt.ramp < 1) opt.ramp = 1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) die("--host must be an IPv4 address");
    if ((ntohl(addr.sin_addr.s_addr) >> 24) != 127) die("refusing %s: loopback (127.0.0.0/8) only", opt.host);
    if (serve) {
        alarm((unsigned)opt.seconds + 10);
        return serve_echo();
    }

    /* the last resort: whatever happens, the process ends */
    alarm((unsigned)(opt.connect_timeout + opt.seconds + opt.verify_timeout + opt.close_timeout + 30));

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    rng_state ^= (uint32_t)now_ns() ^ (uint32_t)getpid() << 16;
    if (!rng_state) rng_state = 1;

    hist = calloc(HIST_MAX, sizeof *hist);
    hist_ms = calloc(HIST_MS_MAX, sizeof *hist_ms);
    conns = calloc((size_t)opt.conns, sizeof *conns);
    for (int i = 0; i < opt.conns; i++) {
        conns[i].fd = -1;
        conns[i].id = i;
        conns[i].send_ts = calloc((size_t)opt.inflight, sizeof(uint64_t));
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);

    uint64_t t_start = now_ns();
    run_loop(t_start + (uint64_t)(opt.connect_timeout * 1e9), connect_done);
    for (int i = 0; i < opt.conns; i++) /* still not open by the deadline */
        if (conns[i].state == S_CONNECTING || conns[i].state == S_HANDSHAKE) {
            note_error("conn %d: not open within %.0f s", i, opt.connect_timeout);
            conn_fail(&conns[i], &st.handshake_other);
        }
    for (int i = next_open; i < opt.conns; i++) st.conn_failed++; /* never started */
    double connect_s = (double)(now_ns() - t_start) / 1e9;

    double window = 0, cpu = 0;
    int open_at_ready = count_open(), open_at_end = 0;
    if (opt.idle) {
        phase = P_HOLD;
        progress("#ready open=%d", open_at_ready);
        uint64_t t0 = now_ns();
        double c0 = cpu_seconds();
        run_loop(t0 + (uint64_t)(opt.seconds * 1e9), NULL);
        window = (double)(now_ns() - t0) / 1e9;
        cpu = cpu_seconds() - c0;
        open_at_end = count_open();
        progress("#hold-end open=%d", open_at_end);
        phase = P_VERIFY;
        for (int i = 0; i < opt.conns; i++)
            if (conns[i].state == S_OPEN) {
                queue_message(&conns[i]);
                if (flush_out(&conns[i]) < 0) conn_lost(&conns[i], "write failed");
            }
        run_loop(now_ns() + (uint64_t)(opt.verify_timeout * 1e9), verify_done);
    } else if (open_at_ready > 0) {
        phase = P_RUN;
        progress("#window-start open=%d", open_at_ready);
        uint64_t t0 = now_ns();
        double c0 = cpu_seconds();
        for (int i = 0; i < opt.conns; i++)
            if (conns[i].state == S_OPEN) {
                for (int k = 0; k < opt.inflight; k++) queue_message(&conns[i]);
                if (flush_out(&conns[i]) < 0) conn_lost(&conns[i], "write failed");
            }
        run_loop(t0 + (uint64_t)(opt.seconds * 1e9), NULL);
        window = (double)(now_ns() - t0) / 1e9;
        cpu = cpu_seconds() - c0;
        phase = P_CLOSE;
        open_at_end = count_open();
        progress("#window-end open=%d", open_at_end);
    }

    /* close: a close frame (draft-76: 0xFF 0x00), then FIN; wait for the server's EOF */
    phase = P_CLOSE;
    for (int i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];
        if (c->state != S_OPEN) continue;
        if (opt.mode == M_RFC6455) {
            unsigned char code[2] = {0x03, 0xe8};
            queue_frame(c, 8, code, 2);
        } else if (opt.mode == M_HIXIE76) {
            queue_frame(c, 8, NULL, 0);
        }
        c->state = S_CLOSING;
        if (flush_out(c) < 0) { conn_finish(c); continue; }
        if (c->wlen == 0) shutdown(c->fd, SHUT_WR);
    }
    run_loop(now_ns() + (uint64_t)(opt.close_timeout * 1e9), close_done);
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].state == S_CLOSING) st.close_timeouts++;
        conn_finish(&conns[i]);
    }

    /* fairness: echoes per connection that opened (a greenlet that never yields
     * starves the others: min 0 and a huge max) */
    uint64_t *per = calloc((size_t)(opt.conns > 0 ? opt.conns : 1), sizeof *per);
    int nper = 0;
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].sent) per[nper++] = conns[i].recvd;
    if (opt.per_conn_path) { /* each connection's count, in connection order */
        FILE *f = fopen(opt.per_conn_path, "w");
        if (!f) die("--per-conn %s: %s", opt.per_conn_path, strerror(errno));
        for (int i = 0; i < nper; i++) fprintf(f, "%llu\n", (unsigned long long)per[i]);
        fclose(f);
    }
    qsort(per, (size_t)nper, sizeof *per, cmp_u64);
    long errors = st.connect_errors + st.handshake_status + st.handshake_bad_answer + st.handshake_other +
                  st.mismatches + st.protocol_errors + st.dropped + st.write_errors;
    printf("{\"mode\": \"%s\", \"workload\": \"%s\", \"label\": \"%s\", \"connections\": %d, "
           "\"connections_ok\": %ld, \"connections_failed\": %ld, \"connect_s\": %.3f, "
           "\"size\": %d, \"inflight\": %d, \"seconds\": %.3f, ",
           MODE_NAMES[opt.mode], opt.idle ? "idle" : (opt.inflight == 1 ? "pingpong" : "pipelined"),
           opt.label ? opt.label : "", opt.conns, st.conn_ok, st.conn_failed, connect_s, opt.size,
           opt.inflight, window);
    if (!opt.idle) {
        printf("\"messages\": %llu, \"msgs_per_s\": %.1f, \"latency_us\": {\"p50\": %ld, \"p90\": %ld, "
               "\"p99\": %ld, \"max\": %llu}, \"per_conn_echoes\": {\"min\": %llu, \"p1\": %llu, "
               "\"p10\": %llu, \"median\": %llu, \"max\": %llu}, ",
               (unsigned long long)st.messages, window > 0 ? (double)st.messages / window : 0.0,
               percentile(0.50), percentile(0.90), percentile(0.99), (unsigned long long)lat_max_us,
               (unsigned long long)(nper ? per[0] : 0), (unsigned long long)(nper ? per[nper / 100] : 0),
               (unsigned long long)(nper ? per[nper / 10] : 0), (unsigned long long)(nper ? per[nper / 2] : 0),
               (unsigned long long)(nper ? per[nper - 1] : 0));
    } else {
        printf("\"open_at_ready\": %d, \"open_at_end\": %d, \"echo_ok_after_hold\": %ld, ",
               open_at_ready, open_at_end, st.verify_ok);
    }
    printf("\"open_at_window_end\": %d, \"errors\": %ld, \"error_detail\": {\"connect\": %ld, "
           "\"handshake_status\": %ld, \"handshake_answer\": %ld, \"handshake_other\": %ld, "
           "\"mismatch\": %ld, \"protocol\": %ld, \"dropped\": %ld, \"write\": %ld}, "
           "\"pings_answered\": %ld, \"closed_clean\": %ld, \"close_timeouts\": %ld, "
           "\"cpu_s\": %.3f, \"cpu_percent\": %.1f, \"first_error\": \"%s\"}\n",
           open_at_end, errors, st.connect_errors, st.handshake_status, st.handshake_bad_answer,
           st.handshake_other, st.mismatches, st.protocol_errors, st.dropped, st.write_errors,
           st.pings_answered, st.closed_clean, st.close_timeouts, cpu, window > 0 ? 100.0 * cpu / window : 0.0,
           st.first_error);
    return st.conn_ok > 0 ? 0 : 2;
}
