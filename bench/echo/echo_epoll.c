/*
 * echo_epoll.c — the echo rig's C reference server: what one thread on epoll can do, with no
 * runtime above it, so the rig can say how far each server is from the kernel's own cost.
 *
 * Level-triggered epoll, non-blocking sockets, one read buffer (--bufsize, default 256 KiB, the
 * size evloop's read slab has). Each readable connection gets one read and one send; bytes the
 * kernel will not take yet are kept for that connection, which then waits for EPOLLOUT instead
 * of EPOLLIN — the server stops reading a client that does not read its replies.
 *
 * usage: echo_epoll --port N [--bufsize BYTES]   (127.0.0.1; --port 0 takes a free port)
 * Prints "listening on 127.0.0.1:PORT" once it accepts. SIGTERM/SIGINT end it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct backlog { char *data; size_t off, len; }; /* unsent bytes of one connection, by fd */

static struct backlog *pending;
static size_t pending_cap;

static void fail(const char *what) {
    fprintf(stderr, "echo_epoll: %s: %s\n", what, strerror(errno));
    exit(1);
}

static struct backlog *backlog_of(int fd) {
    if ((size_t)fd >= pending_cap) {
        size_t cap = pending_cap ? pending_cap : 1024;
        while (cap <= (size_t)fd) cap *= 2;
        struct backlog *p = realloc(pending, cap * sizeof *p);
        if (!p) fail("realloc");
        memset(p + pending_cap, 0, (cap - pending_cap) * sizeof *p);
        pending = p;
        pending_cap = cap;
    }
    return &pending[fd];
}

static void drop(int fd) {
    struct backlog *b = backlog_of(fd);
    free(b->data);
    b->data = NULL;
    b->len = b->off = 0;
    close(fd); /* also leaves the epoll set: the fd is not shared */
}

static void watch(int ep, int op, int fd, unsigned events) {
    struct epoll_event ev = { .events = events, .data.fd = fd };
    if (epoll_ctl(ep, op, fd, &ev) < 0) fail("epoll_ctl");
}

/* Send what is pending; returns 0 when nothing is left, 1 when the kernel is full, -1 on error. */
static int flush(int fd, struct backlog *b) {
    while (b->off < b->len) {
        ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : errno == EINTR ? 1 : -1;
        b->off += (size_t)n;
    }
    free(b->data);
    b->data = NULL;
    b->len = b->off = 0;
    return 0;
}

int main(int argc, char **argv) {
    long port = -1, bufsize = 256 * 1024;
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'}, {"bufsize", required_argument, 0, 'b'}, {0, 0, 0, 0},
    };
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'p') port = strtol(optarg, NULL, 10);
        else if (o == 'b') bufsize = strtol(optarg, NULL, 10);
        else port = -1, optind = argc;
    }
    if (port < 0 || port > 65535 || bufsize < 1) {
        fprintf(stderr, "usage: echo_epoll --port N [--bufsize BYTES]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char *buf = malloc((size_t)bufsize);
    if (!buf) fail("malloc");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) fail("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("bind");
    if (listen(lfd, 1024) < 0) fail("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) fail("getsockname");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) fail("epoll_create1");
    watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);
    printf("listening on 127.0.0.1:%d (epoll, %ld-byte reads)\n", ntohs(addr.sin_port), bufsize);
    fflush(stdout);

    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break; /* EAGAIN, or EMFILE and friends: retried on the next wake-up */
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
                }
                continue;
            }
            struct backlog *b = backlog_of(fd);
            if (b->data) {
                int r = flush(fd, b);
                if (r < 0) drop(fd);
                else if (r == 0) watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
                continue;
            }
            ssize_t got = recv(fd, buf, (size_t)bufsize, 0);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                drop(fd);
                continue;
            }
            if (got < 0) continue;
            ssize_t sent = send(fd, buf, (size_t)got, MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    drop(fd);
                    continue;
                }
                sent = 0;
            }
            if (sent < got) {
                b->len = (size_t)(got - sent);
                b->off = 0;
                b->data = malloc(b->len);
                if (!b->data) fail("malloc");
                memcpy(b->data, buf + sent, b->len);
                watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
            }
        }
    }
}
