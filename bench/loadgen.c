/*
 * loadgen: a WebSocket load generator for the broadcast contract (bench/README.md).
 *
 * One thread, one epoll set, thousands of client connections spread over
 * source addresses 127.0.0.2 and up. Every payload carries the sender's
 * CLOCK_MONOTONIC time, so a receive time minus the time in the payload is
 * that client's latency. Written in C so the generator is never the
 * bottleneck: its own CPU time is printed with every result.
 *
 * Modes (the orchestrator, bench/run.py, picks one per run):
 *   idle        connect, print "READY <n>", wait for a line on stdin, then
 *               check with one broadcast that every client still receives.
 *   broadcast   --rounds R: client 0 sends one message, every client
 *               (sender included) must receive it; per round the time from
 *               send to the last receive; latency percentiles over all.
 *   throughput  --messages M: client 0 keeps --window messages in flight;
 *               deliveries per second over the whole run.
 *   echo        --echo-clients E do --echo-rounds K round trips on /echo
 *               each, while the /ws clients get a broadcast every
 *               --broadcast-interval seconds. --rtt-dump FILE writes every
 *               round trip as "<done us> <rtt us> <client>" (times from the
 *               start of the round trips) and each broadcast as "B <sent us>",
 *               for bench/echo_tail.py.
 * --sse-path P makes every subscriber but client 0 (the sender, which stays a
 * WebSocket client of --ws-path) a Server-Sent Events reader of P: a GET,
 * then each event's "data:" line is a message (chunked or not).
 * --slow S adds S clients with a tiny receive buffer that never read; with
 * --slow-start R they connect just before round R (and with --slow-end R2
 * they close before round R2), so the rounds without them are a baseline
 * from the same server process and the same connections. With
 * --slow-period P they alternate instead: away for P rounds, present for P
 * rounds (connecting afresh each time), and so on, so that slow drift of the
 * machine during a run falls on both sides alike.
 *
 * Every loop is bounded: by counts, and by --timeout seconds for the run.
 * Output: one JSON object on stdout. Build: gcc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };
enum { ROLE_SUB, ROLE_ECHO, ROLE_SLOW };

typedef struct {
    int fd;
    int state;
    int role;
    char *buf;
    size_t len, cap;
    int echo_left;
    uint64_t echo_sent;
    int sse; /* reads text/event-stream instead of WebSocket frames */
} conn_t;

static struct {
    const char *host;
    int port;
    const char *ws_path, *echo_path, *mode, *sse_path;
    int clients, echo_clients, slow, rounds, messages, window, size, echo_rounds;
    double timeout, broadcast_interval, round_gap, round_timeout;
    int sources, max_pending, slow_start, slow_end, slow_period;
} opt = {"127.0.0.1", 0, "/ws", "/echo", "broadcast", NULL, 100, 0, 0, 20, 1000, 64, 64, 100,
         120.0, 1.0, 0.05, 10.0, 200, 512, -1, -1, 0};

static conn_t *conns;
static int nconns, epfd;
static int opened, failed, closed_early;
static uint64_t deadline, connected_at;

/* Per-message bookkeeping for the /ws stream (rounds or throughput messages). */
static int nmsg;
static uint64_t *msg_sent, *msg_last;
static int *msg_count;
static uint32_t *latencies; /* microseconds */
static size_t nlat, caplat;
static uint32_t *echo_rtts;
static size_t necho;
/* --rtt-dump only: when each round trip ended, whose it was, when each broadcast went. */
static const char *rtt_dump_path;
static uint64_t *echo_done_at, *broadcast_at;
static uint32_t *echo_client;
static long long bytes_in;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void watch(conn_t *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void close_conn(conn_t *c) {
    if (c->state == ST_CLOSED) return;
    if (c->state != ST_OPEN) failed++;
    else closed_early++;
    c->state = ST_CLOSED;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    c->buf = NULL;
}

static void start_connect(conn_t *c, int index) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket (raise the fd limit?)");
    free(c->buf); /* a slow client may connect again after it left */
    c->buf = NULL;
    c->len = c->cap = 0;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (c->role == ROLE_SLOW) {
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(index % opt.sources));
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind");
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &dst.sin_addr);
    c->fd = fd;
    c->state = ST_CONNECTING;
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        failed++;
        close(fd);
        c->state = ST_CLOSED;
        return;
    }
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static int send_all(conn_t *c, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                /* Rare for small messages: wait briefly for room. */
                struct timespec pause = {0, 100000};
                nanosleep(&pause, NULL);
                if (now_ns() > deadline) return -1;
                continue;
            }
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_request(conn_t *c) {
    char req[512];
    if (c->sse) {
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n",
                         opt.sse_path, opt.host, opt.port);
        if (send_all(c, req, (size_t)n) < 0) close_conn(c);
        return;
    }
    const char *path = c->role == ROLE_ECHO ? opt.echo_path : opt.ws_path;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, opt.host, opt.port);
    if (send_all(c, req, (size_t)n) < 0) close_conn(c);
}

/* A masked client text frame; the zero mask key leaves the payload as is. */
static int send_text(conn_t *c, const char *payload, size_t len) {
    char frame[16 + 65536];
    size_t h = 0;
    frame[h++] = (char)0x81;
    if (len < 126) {
        frame[h++] = (char)(0x80 | len);
    } else {
        frame[h++] = (char)(0x80 | 126);
        frame[h++] = (char)(len >> 8);
        frame[h++] = (char)(len & 0xff);
    }
    memset(frame + h, 0, 4);
    h += 4;
    memcpy(frame + h, payload, len);
    return send_all(c, frame, h + len);
}

static void send_control(conn_t *c, int opcode, const char *payload, size_t len) {
    char frame[6 + 125];
    frame[0] = (char)(0x80 | opcode);
    frame[1] = (char)(0x80 | len);
    memset(frame + 2, 0, 4);
    memcpy(frame + 6, payload, len);
    send_all(c, frame, 6 + len);
}

/* Payload: "M<8-digit message id>T<20-digit ns>" padded with '.' to --size. */
static size_t make_payload(char *out, int id, uint64_t t) {
    int n = snprintf(out, 64, "M%08dT%020llu", id, (unsigned long long)t);
    size_t size = (size_t)opt.size > (size_t)n ? (size_t)opt.size : (size_t)n;
    memset(out + n, '.', size - (size_t)n);
    return size;
}

static void add_latency(uint64_t ns) {
    if (nlat == caplat) {
        caplat = caplat ? caplat * 2 : 65536;
        latencies = realloc(latencies, caplat * sizeof *latencies);
        if (!latencies) die("realloc");
    }
    latencies[nlat++] = (uint32_t)(ns / 1000);
}

static void on_message(conn_t *c, const char *p, size_t len, uint64_t t) {
    bytes_in += (long long)len;
    if (len < 30 || p[0] != 'M' || p[9] != 'T') return;
    int id = atoi(p + 1);
    uint64_t sent = strtoull(p + 10, NULL, 10);
    if (c->role == ROLE_ECHO) {
        if (echo_rtts) {
            if (echo_done_at) {
                echo_done_at[necho] = t;
                echo_client[necho] = (uint32_t)(c - conns);
            }
            echo_rtts[necho++] = (uint32_t)((t - sent) / 1000);
        }
        if (--c->echo_left > 0) {
            char payload[65536];
            uint64_t t2 = now_ns();
            size_t n = make_payload(payload, id + 1, t2);
            send_text(c, payload, n);
        }
        return;
    }
    if (id < 0 || id >= nmsg) return;
    msg_count[id]++;
    if (t > msg_last[id]) msg_last[id] = t;
    add_latency(t - sent);
}

/* Every complete event in c->buf (a block ended by a blank line): its data
 * line is a message. Chunk-size lines between events are skipped over. */
static void parse_events(conn_t *c) {
    size_t off = 0;
    uint64_t t = now_ns();
    for (;;) {
        char *start = c->buf + off;
        char *end = memmem(start, c->len - off, "\n\n", 2);
        if (!end) break;
        char *data = memmem(start, (size_t)(end - start), "data: ", 6);
        if (data) on_message(c, data + 6, (size_t)(end - data - 6), t);
        off = (size_t)(end - c->buf) + 2;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

/* Parse every complete server frame in c->buf. */
static void parse_frames(conn_t *c) {
    size_t off = 0;
    uint64_t t = now_ns();
    while (c->len - off >= 2) {
        unsigned char *b = (unsigned char *)c->buf + off;
        int opcode = b[0] & 0x0f;
        uint64_t plen = b[1] & 0x7f;
        size_t hdr = 2;
        if (b[1] & 0x80) { close_conn(c); return; } /* servers never mask */
        if (plen == 126) {
            if (c->len - off < 4) break;
            plen = ((uint64_t)b[2] << 8) | b[3];
            hdr = 4;
        } else if (plen == 127) {
            if (c->len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = (plen << 8) | b[2 + i];
            hdr = 10;
        }
        if (c->len - off < hdr + plen) break;
        const char *payload = (const char *)b + hdr;
        if (opcode == 1 || opcode == 2) on_message(c, payload, (size_t)plen, t);
        else if (opcode == 9) send_control(c, 0xA, payload, (size_t)plen);
        else if (opcode == 8) { close_conn(c); return; }
        off += hdr + (size_t)plen;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void on_readable(conn_t *c) {
    for (;;) {
        if (c->cap - c->len < 4096) {
            c->cap = c->cap ? c->cap * 2 : 8192;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf) die("realloc");
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0) { close_conn(c); return; }
        if (n < 0) {
            if (errno != EAGAIN) close_conn(c);
            break;
        }
        c->len += (size_t)n;
        if (c->state == ST_HANDSHAKE) {
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!end) continue;
            if (strncmp(c->buf, c->sse ? "HTTP/1.1 200" : "HTTP/1.1 101", 12) != 0) {
                close_conn(c);
                return;
            }
            size_t head = (size_t)(end - c->buf) + 4;
            memmove(c->buf, c->buf + head, c->len - head);
            c->len -= head;
            c->state = ST_OPEN;
            opened++;
            if (c->role == ROLE_SLOW) { /* never read again */
                watch(c, 0, EPOLL_CTL_MOD);
                return;
            }
        }
        if (c->state == ST_OPEN) {
            if (c->sse) parse_events(c);
            else parse_frames(c);
        }
        if (c->state == ST_CLOSED) return;
        if ((size_t)n < 4096) break;
    }
    /* Keep idle buffers small: 15,000 clients must fit in memory. */
    if (c->len == 0 && c->cap > 65536) {
        free(c->buf);
        c->buf = NULL;
        c->cap = 0;
    }
}

static void handle(struct epoll_event *ev) {
    conn_t *c = ev->data.ptr;
    if (c->state == ST_CLOSED) return;
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (ev->events & (EPOLLERR | EPOLLHUP))) { close_conn(c); return; }
        c->state = ST_HANDSHAKE;
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
        send_request(c);
        return;
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
}

/* Run the event loop until done() or the wait (seconds) or the deadline passes. */
static void loop_until(int (*done)(void), double wait) {
    struct epoll_event events[512];
    uint64_t until = now_ns() + (uint64_t)(wait * 1e9);
    if (until > deadline) until = deadline;
    while (!(done && done()) && now_ns() < until) {
        int ms = (int)((until - now_ns()) / 1000000) + 1;
        if (ms > 50) ms = 50;
        /* With echo clients, small batches and echo events first: the round
         * trips measure the server, not this process working through
         * thousands of broadcast receipts queued ahead of an echo reply. */
        int n = epoll_wait(epfd, events, opt.echo_clients ? 64 : 512, ms);
        if (opt.echo_clients) {
            for (int i = 0; i < n; i++)
                if (((conn_t *)events[i].data.ptr)->role == ROLE_ECHO) handle(&events[i]);
            for (int i = 0; i < n; i++)
                if (((conn_t *)events[i].data.ptr)->role != ROLE_ECHO) handle(&events[i]);
        } else {
            for (int i = 0; i < n; i++) handle(&events[i]);
        }
    }
}

static int connect_target, next_to_connect;
static int all_connected(void) { return opened + failed >= connect_target; }

/* Connect conns[next_to_connect .. upto). */
static void connect_all(int upto) {
    connect_target = upto;
    while (!all_connected() && now_ns() < deadline) {
        /* Bounded handshakes in flight, so the server's backlog never overflows. */
        while (next_to_connect < upto && next_to_connect - opened - failed < opt.max_pending) {
            start_connect(&conns[next_to_connect], next_to_connect);
            next_to_connect++;
        }
        loop_until(all_connected, 0.01);
    }
}

static int current_msg, subs_alive;
static int message_complete(void) { return msg_count[current_msg] >= subs_alive; }

static int count_alive(int role) {
    int n = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i].role == role && conns[i].state == ST_OPEN) n++;
    return n;
}

static conn_t *sender(void) {
    for (int i = 0; i < nconns; i++)
        if (conns[i].role == ROLE_SUB && !conns[i].sse && conns[i].state == ST_OPEN)
            return &conns[i];
    return NULL;
}

static void send_message(int id) {
    char payload[65536];
    conn_t *c = sender();
    if (!c) return;
    uint64_t t = now_ns();
    size_t n = make_payload(payload, id, t);
    msg_sent[id] = t;
    send_text(c, payload, n);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct_ms(uint32_t *v, size_t n, double p) {
    if (!n) return -1;
    qsort(v, n, sizeof *v, cmp_u32);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static void alloc_messages(int n) {
    nmsg = n;
    msg_sent = calloc((size_t)n, sizeof *msg_sent);
    msg_last = calloc((size_t)n, sizeof *msg_last);
    msg_count = calloc((size_t)n, sizeof *msg_count);
    if (!msg_sent || !msg_last || !msg_count) die("calloc");
}

/* Send messages 0..n-1 one at a time; return the completion times in ms
 * (-1 for a round that did not complete within --round-timeout). After three
 * incomplete rounds the server is considered stalled and the rest is skipped. */
static int slow_wanted(int r) {
    if (opt.slow <= 0) return 0;
    if (opt.slow_period > 0) return (r / opt.slow_period) % 2 == 1;
    return opt.slow_start >= 0 && r >= opt.slow_start && (opt.slow_end < 0 || r < opt.slow_end);
}

static int slow_all_open(void) {
    for (int i = nconns - opt.slow; i < nconns; i++)
        if (conns[i].state != ST_OPEN) return 0;
    return 1;
}

static void join_slow(void) {
    for (int i = nconns - opt.slow; i < nconns; i++) start_connect(&conns[i], i);
    if (next_to_connect < nconns) next_to_connect = nconns;
    loop_until(slow_all_open, opt.round_timeout);
    loop_until(NULL, opt.round_gap);
}

static void leave_slow(void) {
    for (int i = nconns - opt.slow; i < nconns; i++)
        if (conns[i].state == ST_OPEN) {
            close_conn(&conns[i]);
            closed_early--; /* a planned close */
        }
    loop_until(NULL, opt.round_gap);
}

/* Send messages 0..n-1 one at a time; return the completion times in ms
 * (-1 for a round that did not complete within --round-timeout). After three
 * incomplete rounds the server is considered stalled and the rest is skipped.
 * The slow clients join and leave between rounds (--slow-start/--slow-end, or
 * every --slow-period rounds: away in even blocks, present in odd ones). */
static double *run_rounds(int n, int *complete) {
    double *ms = malloc((size_t)n * sizeof *ms);
    int incomplete = 0, slow_in = 0;
    *complete = 0;
    for (int r = 0; r < n; r++) ms[r] = -1;
    for (int r = 0; r < n && now_ns() < deadline && incomplete < 3; r++) {
        int want = slow_wanted(r);
        if (want && !slow_in) join_slow();
        if (!want && slow_in) leave_slow();
        slow_in = want;
        subs_alive = count_alive(ROLE_SUB);
        current_msg = r;
        send_message(r);
        loop_until(message_complete, opt.round_timeout);
        if (message_complete()) {
            ms[r] = (double)(msg_last[r] - msg_sent[r]) / 1e6;
            (*complete)++;
        } else {
            incomplete++;
        }
        loop_until(NULL, opt.round_gap);
    }
    return ms;
}

static double median(double *v, int n) {
    double *copy = malloc((size_t)n * sizeof *copy);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (v[i] >= 0) copy[m++] = v[i];
    double result = -1;
    if (m) {
        qsort(copy, (size_t)m, sizeof *copy, cmp_double);
        result = m % 2 ? copy[m / 2] : (copy[m / 2 - 1] + copy[m / 2]) / 2;
    }
    free(copy);
    return result;
}

static void print_common(uint64_t started) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("\"mode\": \"%s\", \"clients\": %d, \"echo_clients\": %d, \"slow\": %d, "
           "\"connected\": %d, \"failed\": %d, \"closed_early\": %d, \"size\": %d, "
           "\"loadgen_cpu_s\": %.3f, \"wall_s\": %.3f, \"bytes_in\": %lld, "
           "\"connect_s\": %.3f, \"max_pending\": %d",
           opt.mode, opt.clients, opt.echo_clients, opt.slow, opened, failed, closed_early,
           opt.size, cpu, (double)(now_ns() - started) / 1e9, bytes_in,
           (double)(connected_at - started) / 1e9, opt.max_pending);
}

static void print_rounds(double *ms, int n, int complete) {
    printf(", \"rounds\": %d, \"rounds_complete\": %d, \"completion_ms\": [", n, complete);
    for (int i = 0; i < n; i++) printf("%s%.3f", i ? ", " : "", ms[i]);
    printf("], \"completion_ms_median\": %.3f", median(ms, n));
    double p50 = pct_ms(latencies, nlat, 0.50), p99 = pct_ms(latencies, nlat, 0.99);
    printf(", \"latency_ms_p50\": %.3f, \"latency_ms_p99\": %.3f, \"deliveries\": %zu", p50, p99,
           nlat);
}

static void dump_rtts(uint64_t origin, int broadcasts) {
    FILE *out = fopen(rtt_dump_path, "w");
    if (!out) die("--rtt-dump");
    for (size_t i = 0; i < necho; i++)
        fprintf(out, "%llu %u %u\n", (unsigned long long)((echo_done_at[i] - origin) / 1000),
                echo_rtts[i], echo_client[i]);
    for (int i = 0; i < broadcasts; i++)
        fprintf(out, "B %llu\n", (unsigned long long)((broadcast_at[i] - origin) / 1000));
    if (fclose(out) != 0) die("--rtt-dump");
}

static int echo_done(void) {
    for (int i = 0; i < nconns; i++)
        if (conns[i].role == ROLE_ECHO && conns[i].state == ST_OPEN && conns[i].echo_left > 0)
            return 0;
    return 1;
}

static int throughput_sent, throughput_done_count;
static int throughput_done(void) {
    while (throughput_done_count < nmsg && msg_count[throughput_done_count] >= subs_alive)
        throughput_done_count++;
    return throughput_done_count >= nmsg;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P [--mode idle|broadcast|throughput|echo] [--clients N]\n"
            "  [--rounds R] [--messages M] [--window W] [--size BYTES] [--slow S]\n"
            "  [--echo-clients E] [--echo-rounds K] [--broadcast-interval S]\n"
            "  [--ws-path /ws] [--echo-path /echo] [--sse-path /events] [--sources 200]\n"
            "  [--max-pending 512] [--timeout S]\n"
            "  [--round-timeout S] [--round-gap S] [--slow-start ROUND] [--slow-end ROUND]\n"
            "  [--slow-period ROUNDS] [--rtt-dump FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--port")) opt.port = atoi(v);
        else if (!strcmp(a, "--host")) opt.host = v;
        else if (!strcmp(a, "--mode")) opt.mode = v;
        else if (!strcmp(a, "--clients")) opt.clients = atoi(v);
        else if (!strcmp(a, "--rounds")) opt.rounds = atoi(v);
        else if (!strcmp(a, "--messages")) opt.messages = atoi(v);
        else if (!strcmp(a, "--window")) opt.window = atoi(v);
        else if (!strcmp(a, "--size")) opt.size = atoi(v);
        else if (!strcmp(a, "--slow")) opt.slow = atoi(v);
        else if (!strcmp(a, "--echo-clients")) opt.echo_clients = atoi(v);
        else if (!strcmp(a, "--echo-rounds")) opt.echo_rounds = atoi(v);
        else if (!strcmp(a, "--broadcast-interval")) opt.broadcast_interval = atof(v);
        else if (!strcmp(a, "--round-gap")) opt.round_gap = atof(v);
        else if (!strcmp(a, "--round-timeout")) opt.round_timeout = atof(v);
        else if (!strcmp(a, "--slow-start")) opt.slow_start = atoi(v);
        else if (!strcmp(a, "--slow-end")) opt.slow_end = atoi(v);
        else if (!strcmp(a, "--slow-period")) opt.slow_period = atoi(v);
        else if (!strcmp(a, "--ws-path")) opt.ws_path = v;
        else if (!strcmp(a, "--echo-path")) opt.echo_path = v;
        else if (!strcmp(a, "--sse-path")) opt.sse_path = v;
        else if (!strcmp(a, "--max-pending")) opt.max_pending = atoi(v);
        else if (!strcmp(a, "--sources")) opt.sources = atoi(v);
        else if (!strcmp(a, "--timeout")) opt.timeout = atof(v);
        else if (!strcmp(a, "--rtt-dump")) rtt_dump_path = v;
        else usage();
    }
    if (!opt.port || opt.size < 30 || opt.size > 60000 || opt.sources < 1) usage();
    uint64_t started = now_ns();
    deadline = started + (uint64_t)(opt.timeout * 1e9);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    nconns = opt.clients + opt.slow + opt.echo_clients;
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns) die("calloc");
    /* Subscribers, then echo clients, then the slow ones (last, so that
     * --slow-start can connect them in the middle of a run). */
    for (int i = 0; i < nconns; i++) {
        conns[i].role = i < opt.clients                      ? ROLE_SUB
                        : i < opt.clients + opt.echo_clients ? ROLE_ECHO
                                                             : ROLE_SLOW;
        conns[i].echo_left = opt.echo_rounds;
        conns[i].sse = opt.sse_path && i > 0 && i < opt.clients;
    }
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    connect_all(opt.slow_start >= 0 || opt.slow_period > 0 ? nconns - opt.slow : nconns);
    connected_at = now_ns();
    fprintf(stderr, "loadgen: %d connected, %d failed\n", opened, failed);

    printf("{");
    if (!strcmp(opt.mode, "idle")) {
        alloc_messages(1);
        printf("\"ready\": %d, ", opened);
        fprintf(stderr, "READY %d\n", opened);
        /* Wait (serving pings) until the orchestrator writes a line. */
        int flags = fcntl(0, F_GETFL);
        fcntl(0, F_SETFL, flags | O_NONBLOCK);
        char line[64];
        while (now_ns() < deadline && read(0, line, sizeof line) <= 0) loop_until(NULL, 0.1);
        int complete;
        double *ms = run_rounds(1, &complete);
        print_common(started);
        print_rounds(ms, 1, complete);
        printf(", \"received_check\": %d", msg_count[0]);
    } else if (!strcmp(opt.mode, "broadcast")) {
        alloc_messages(opt.rounds);
        int complete;
        double *ms = run_rounds(opt.rounds, &complete);
        print_common(started);
        print_rounds(ms, opt.rounds, complete);
    } else if (!strcmp(opt.mode, "throughput")) {
        alloc_messages(opt.messages);
        subs_alive = count_alive(ROLE_SUB);
        uint64_t t0 = now_ns();
        while (!throughput_done() && now_ns() < deadline) {
            while (throughput_sent < nmsg && throughput_sent - throughput_done_count < opt.window)
                send_message(throughput_sent++);
            loop_until(throughput_done, 0.001);
        }
        double elapsed = (double)(now_ns() - t0) / 1e9;
        print_common(started);
        printf(", \"messages\": %d, \"messages_complete\": %d, \"window\": %d", nmsg,
               throughput_done_count, opt.window);
        printf(", \"deliveries\": %zu, \"deliveries_per_s\": %.0f", nlat, (double)nlat / elapsed);
        double p50 = pct_ms(latencies, nlat, 0.50), p99 = pct_ms(latencies, nlat, 0.99);
        printf(", \"latency_ms_p50\": %.3f, \"latency_ms_p99\": %.3f", p50, p99);
    } else if (!strcmp(opt.mode, "echo")) {
        int rounds = opt.broadcast_interval > 0 ? (int)(opt.timeout / opt.broadcast_interval) + 1
                                                : 1;
        alloc_messages(rounds);
        size_t trips = (size_t)opt.echo_clients * (size_t)opt.echo_rounds + 1;
        echo_rtts = calloc(trips, sizeof *echo_rtts);
        if (rtt_dump_path) {
            echo_done_at = calloc(trips, sizeof *echo_done_at);
            echo_client = calloc(trips, sizeof *echo_client);
            broadcast_at = calloc((size_t)rounds, sizeof *broadcast_at);
            if (!echo_done_at || !echo_client || !broadcast_at) die("calloc");
        }
        for (int i = 0; i < nconns; i++) {
            conn_t *c = &conns[i];
            if (c->role != ROLE_ECHO || c->state != ST_OPEN) continue;
            char payload[65536];
            size_t n = make_payload(payload, 0, now_ns());
            send_text(c, payload, n);
        }
        int broadcasts = 0;
        uint64_t echo_started = now_ns();
        uint64_t next_broadcast = now_ns();
        while (!echo_done() && now_ns() < deadline) {
            if (opt.clients && opt.broadcast_interval > 0 && now_ns() >= next_broadcast &&
                broadcasts < rounds) {
                if (broadcast_at) broadcast_at[broadcasts] = now_ns();
                send_message(broadcasts++);
                next_broadcast += (uint64_t)(opt.broadcast_interval * 1e9);
            }
            loop_until(echo_done, 0.01);
        }
        double echo_s = (double)(now_ns() - echo_started) / 1e9;
        if (rtt_dump_path) /* before the percentiles, which sort echo_rtts */
            dump_rtts(echo_started, broadcasts);
        print_common(started);
        printf(", \"echo_rounds\": %d, \"echo_rtts\": %zu", opt.echo_rounds, necho);
        printf(", \"echo_per_s\": %.0f", echo_s > 0 ? (double)necho / echo_s : 0.0);
        /* Each client has one request in flight, so a server that stalls
         * delays one round trip per client, however long the stall: the
         * maximum shows stalls that the percentiles hide. */
        printf(", \"echo_rtt_ms_p50\": %.3f, \"echo_rtt_ms_p99\": %.3f, "
               "\"echo_rtt_ms_p999\": %.3f, \"echo_rtt_ms_max\": %.3f",
               pct_ms(echo_rtts, necho, 0.50), pct_ms(echo_rtts, necho, 0.99),
               pct_ms(echo_rtts, necho, 0.999), pct_ms(echo_rtts, necho, 1.0));
        printf(", \"broadcasts\": %d, \"broadcast_deliveries\": %zu", broadcasts, nlat);
    } else {
        usage();
    }
    printf("}\n");
    fflush(stdout);
    return 0;
}
