/* The floor: the least a server can do for the bench contract, in C.
 *
 *   c_floor --port P
 *
 * One thread, one level-triggered epoll set, no library. /ws: every text or
 * binary message is written to every /ws client, the sender included, one
 * write(2) per client from one frame built once; /echo: every message goes
 * back to its sender. Pings get pongs, a close gets a close.
 *
 * It is a yardstick, not a server: what the kernel charges for the same
 * sockets and the same writes, with nothing above it. A client whose socket
 * does not take a whole frame at once is closed (there is no send queue),
 * and fragmented messages are not supported.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_MESSAGE (1 << 20)

/* -- SHA-1 (RFC 3174), for Sec-WebSocket-Accept only -------------------- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t padded = ((len + 8) / 64 + 1) * 64;
    unsigned char *buf = calloc(padded, 1);
    if (!buf) abort();
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[padded - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t block = 0; block < padded; block += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++) {
            const unsigned char *p = buf + block + 4 * i;
            w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
            else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            else f = b ^ c ^ d, k = 0xCA62C1D6;
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    free(buf);
    for (int i = 0; i < 20; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t len, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    out[o] = 0;
}

/* -- connections --------------------------------------------------------- */

enum { HTTP, WS_BROADCAST, WS_ECHO };

typedef struct {
    int open, kind, member; /* member: index in subscribers, or -1 */
    unsigned char *buf;     /* bytes of a request or frame not yet whole */
    size_t len;
} conn_t;

static conn_t conns[MAX_FDS];
static int subscribers[MAX_FDS], nsubscribers;
static int epfd;

static void drop(int fd) {
    conn_t *c = &conns[fd];
    if (!c->open) return;
    if (c->member >= 0) { /* swap-remove from the subscriber list */
        int last = subscribers[--nsubscribers];
        subscribers[c->member] = last;
        conns[last].member = c->member;
    }
    free(c->buf);
    memset(c, 0, sizeof *c);
    close(fd);
}

/* Write all of it now or drop the client: the floor has no send queue. */
static int write_all(int fd, const void *data, size_t len) {
    ssize_t n = write(fd, data, len);
    if (n == (ssize_t)len) return 0;
    drop(fd);
    return -1;
}

static size_t frame_header(unsigned char *h, int opcode, size_t len) {
    h[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len < 65536) {
        h[1] = 126, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static void send_frame(int fd, int opcode, const unsigned char *payload, size_t len) {
    unsigned char *out = malloc(len + 10);
    if (!out) abort();
    size_t h = frame_header(out, opcode, len);
    memcpy(out + h, payload, len);
    write_all(fd, out, h + len);
    free(out);
}

static void broadcast(int opcode, const unsigned char *payload, size_t len) {
    unsigned char *out = malloc(len + 10);
    if (!out) abort();
    size_t size = frame_header(out, opcode, len) + len;
    memcpy(out + size - len, payload, len);
    /* Backwards: a dropped client is swapped with the last, already written. */
    for (int i = nsubscribers - 1; i >= 0; i--) {
        if (i < nsubscribers) write_all(subscribers[i], out, size);
    }
    free(out);
}

/* Upgrade the connection if buf holds a whole request; returns the bytes
 * used (0: not yet whole), or -1 if the client is gone. */
static long handshake(int fd, char *buf, size_t len) {
    buf[len] = 0;
    char *end = strstr(buf, "\r\n\r\n");
    if (!end) return 0;
    char path[64] = "";
    sscanf(buf, "GET %63s", path);
    char *key = NULL;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, "Sec-WebSocket-Key:", 18)) {
            key = line + 20;
            while (*key == ' ') key++;
            break;
        }
    }
    if (!key || (strcmp(path, "/ws") && strcmp(path, "/echo"))) {
        const char *no = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        if (write_all(fd, no, strlen(no)) == 0) drop(fd);
        return -1;
    }
    char text[128];
    int keylen = 0;
    while (keylen < 60 && key[keylen] && !isspace((unsigned char)key[keylen])) keylen++;
    snprintf(text, sizeof text, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", keylen, key);
    unsigned char digest[20];
    char accept[32], response[256];
    sha1((unsigned char *)text, strlen(text), digest);
    base64(digest, 20, accept);
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (write_all(fd, response, (size_t)n) < 0) return -1;
    conn_t *c = &conns[fd];
    if (!strcmp(path, "/ws")) {
        c->kind = WS_BROADCAST;
        c->member = nsubscribers;
        subscribers[nsubscribers++] = fd;
    } else {
        c->kind = WS_ECHO;
    }
    return end + 4 - buf;
}

/* Handle every whole frame in buf; returns the bytes used, or -1 if the
 * client is gone. */
static long frames(int fd, unsigned char *buf, size_t len) {
    size_t at = 0;
    while (len - at >= 2) {
        unsigned char *p = buf + at;
        int opcode = p[0] & 15, masked = p[1] & 0x80;
        uint64_t size = p[1] & 127;
        size_t h = 2;
        if (size == 126) {
            if (len - at < 4) break;
            size = (uint64_t)p[2] << 8 | p[3], h = 4;
        } else if (size == 127) {
            if (len - at < 10) break;
            size = 0;
            for (int i = 0; i < 8; i++) size = size << 8 | p[2 + i];
            h = 10;
        }
        if (!masked || size > MAX_MESSAGE || !(p[0] & 0x80)) {
            drop(fd);
            return -1;
        }
        if (len - at < h + 4 + size) break;
        unsigned char *mask = p + h, *payload = p + h + 4;
        for (uint64_t i = 0; i < size; i++) payload[i] ^= mask[i & 3];
        at += h + 4 + size;
        if (opcode == 1 || opcode == 2) {
            if (conns[fd].kind == WS_ECHO) send_frame(fd, opcode, payload, size);
            else broadcast(opcode, payload, size);
        } else if (opcode == 9) {
            send_frame(fd, 10, payload, size);
        } else if (opcode == 8) {
            send_frame(fd, 8, payload, size < 2 ? size : 2);
            drop(fd);
            return -1;
        }
        if (!conns[fd].open) return -1; /* dropped while writing */
    }
    return (long)at;
}

/* Bytes are read into one shared buffer; a connection keeps (in its own
 * allocation) only the part of a request or frame that has not arrived whole,
 * so an idle connection costs no user-space memory. */
static unsigned char scratch[2 * MAX_MESSAGE + 65536];

static void readable(int fd) {
    conn_t *c = &conns[fd];
    for (;;) {
        size_t have = c->len;
        if (have) memcpy(scratch, c->buf, have);
        free(c->buf);
        c->buf = NULL, c->len = 0;
        ssize_t n = read(fd, scratch + have, sizeof scratch - have - 1);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
            drop(fd);
            return;
        }
        size_t total = have + (n > 0 ? (size_t)n : 0);
        long used = 0;
        if (n > 0) {
            if (c->kind == HTTP) used = handshake(fd, (char *)scratch, total);
            if (used >= 0 && conns[fd].open && c->kind != HTTP) {
                long more = frames(fd, scratch + used, total - (size_t)used);
                used = more < 0 ? -1 : used + more;
            }
            if (used < 0 || !conns[fd].open) return;
        }
        size_t rest = total - (size_t)used;
        if (rest > 2 * MAX_MESSAGE || (c->kind == HTTP && rest > 16384)) {
            drop(fd);
            return;
        }
        if (rest) {
            c->buf = malloc(rest);
            if (!c->buf) abort();
            memcpy(c->buf, scratch + used, rest);
            c->len = rest;
        }
        if (n <= 0) return; /* EAGAIN: wait for more */
    }
}

int main(int argc, char **argv) {
    int port = 9000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0) {
        perror("c_floor: listen");
        return 1;
    }
    epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    fprintf(stderr, "c_floor: listening on 127.0.0.1:%d\n", port);
    struct epoll_event events[512];
    for (;;) {
        int n = epoll_wait(epfd, events, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd != listener) {
                if (conns[fd].open) readable(fd);
                continue;
            }
            for (;;) {
                int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                if (client < 0) break;
                if (client >= MAX_FDS) {
                    close(client);
                    continue;
                }
                setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns[client] = (conn_t){.open = 1, .kind = HTTP, .member = -1};
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = client};
                epoll_ctl(epfd, EPOLL_CTL_ADD, client, &cev);
            }
        }
    }
}
