/*
 * loadgen.c — the echo rig's load generator (bench/echo/run.js builds it with `cc -O2`).
 *
 * One thread, one epoll set, closed loop: every connection keeps --depth messages of --size bytes
 * outstanding, and queues the next one the moment one has fully come back. What it sends is a
 * window onto a fixed pseudo-random byte pattern (each connection starting at its own offset),
 * so every echoed byte is compared with the byte sent at that stream position: a server that
 * loses, reorders, duplicates or mixes up bytes between connections fails the run instead of
 * scoring well.
 *
 * Timeline: --warmup seconds (nothing counted), --seconds measured, then no new messages are
 * queued and the run waits for everything in flight to come back before closing, so the server
 * sees a clean EOF. Latency is queue-to-last-byte per message (with depth > 1 it includes the
 * wait behind the earlier messages of the pipeline).
 *
 * CPU over the measured window comes from /proc: the server's utime+stime (--server-pid), this
 * process's own, and the whole machine's busy time, so that load from other processes — which
 * steals one of the two cores the rig pins to — is reported next to the figures it skews; and
 * how often the server's main thread slept waiting for messages (server_wakeups).
 *
 * --busy-poll polls epoll with a zero timeout instead of sleeping in it: on a VM the wake-up
 * of a sleeping load generator can be as long as a whole loopback round trip, which would hide
 * the server's share of a single-connection latency.
 *
 * Output: the last line of stdout is one JSON object. Errors go to stderr with exit status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_LEN 999983u        /* a prime, so message boundaries drift across the pattern */
#define MAX_WRITE (1u << 20)       /* one write() call sends at most this much */
#define READ_BUF (1u << 20)        /* one read() call takes at most this much */
#define BUCKET_NS 100u             /* latency histogram: 100 ns buckets up to 200 ms */
#define BUCKETS 2000000u
#define STALL_NS 5000000000ull     /* a connection owed bytes for this long without any = error */
#define DRAIN_NS 10000000000ull    /* after the window, everything must come back within this */

struct conn {
    int fd;
    int want_write;                /* EPOLLOUT is armed */
    uint64_t start;                /* pattern offset of this connection's first byte */
    uint64_t queued, sent, recvd;  /* stream positions, in bytes */
    uint64_t completed;            /* messages fully echoed back */
    uint64_t *sent_at;             /* ring of `depth` queue times, indexed by message number */
    uint64_t last_rx;              /* when this connection last received (or began waiting) */
};

static unsigned char *pattern;     /* PATTERN_LEN + max(MAX_WRITE, READ_BUF) bytes */
static unsigned char *rbuf;
static uint32_t *hist;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* utime + stime of a process, in clock ticks, from /proc/PID/stat (-1 if it cannot be read);
 * its utime alone in *user when user is not NULL. */
static long long proc_ticks(const char *pid, long long *user) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: count from its last ')'. */
    char *p = strrchr(text, ')');
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    if (user) *user = (long long)utime;
    return (long long)(utime + stime);
}

/*
 * Nanoseconds a process's threads have run, summed from /proc/PID/task/TID/schedstat (-1 if it
 * cannot be read). Ticks (10 ms) are too coarse for a short window on a loaded machine: a
 * server that ran 8 ms in a 0.3 s window could read 0 ticks; schedstat counts each thread's
 * time on a CPU exactly.
 */
static long long proc_run_ns(const char *pid) {
    char path[96], line[128];
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    long long total = 0;
    int threads = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%s/task/%.32s/schedstat", pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue; /* a thread that ended meanwhile */
        unsigned long long ns = 0;
        if (fgets(line, sizeof line, f) && sscanf(line, "%llu", &ns) == 1) {
            total += (long long)ns;
            threads++;
        }
        fclose(f);
    }
    closedir(d);
    return threads > 0 ? total : -1;
}

/*
 * Times the server's main thread went to sleep waiting (voluntary context switches, from
 * /proc/PID/status; -1 if it cannot be read). Messages per wake-up tell how a server met the
 * load: a server that wakes for every few messages pays the scheduler each time, and which way
 * a closed loop settles can differ from run to run for the same server.
 */
static long long proc_wakeups(const char *pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1) break;
    fclose(f);
    return v;
}

/* Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
static long long machine_busy_ticks(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got < 4) return -1;
    /* user nice system [idle iowait] irq softirq steal */
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

struct cpu_snapshot { long long server, server_user, server_ns, self, machine, server_wakeups; };

static void snapshot(struct cpu_snapshot *s, const char *server_pid) {
    s->server = server_pid ? proc_ticks(server_pid, &s->server_user) : -1;
    s->server_ns = server_pid ? proc_run_ns(server_pid) : -1;
    s->server_wakeups = server_pid ? proc_wakeups(server_pid) : -1;
    s->self = proc_ticks("self", NULL);
    s->machine = machine_busy_ticks();
}

static void arm(int ep, struct conn *c, int want_write) {
    if (c->want_write == want_write) return;
    struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    c->want_write = want_write;
}

static void flush(int ep, struct conn *c) {
    while (c->sent < c->queued) {
        uint64_t left = c->queued - c->sent;
        size_t len = left < MAX_WRITE ? (size_t)left : MAX_WRITE;
        ssize_t n = send(c->fd, pattern + (c->start + c->sent) % PATTERN_LEN, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            die("send: %s", strerror(errno));
        }
        c->sent += (uint64_t)n;
    }
    arm(ep, c, c->sent < c->queued);
}

static double percentile(uint64_t count, double q) {
    if (count == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)(count - 1)) + 1, seen = 0;
    for (uint32_t i = 0; i < BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) return (i + 0.5) * BUCKET_NS / 1000.0;
    }
    return (double)BUCKETS * BUCKET_NS / 1000.0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port N [--host 127.0.0.1] [--conns 1] [--depth 1] [--size 64]\n"
            "               [--seconds 3] [--warmup 1] [--server-pid PID] [--busy-poll]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *server_pid = NULL;
    long port = -1, conns = 1, depth = 1, size = 64;
    double seconds = 3, warmup = 1;
    int busy_poll = 0;
    static const struct option opts[] = {
        {"host", required_argument, 0, 'h'},   {"port", required_argument, 0, 'p'},
        {"conns", required_argument, 0, 'c'},  {"depth", required_argument, 0, 'd'},
        {"size", required_argument, 0, 's'},   {"seconds", required_argument, 0, 't'},
        {"warmup", required_argument, 0, 'w'}, {"server-pid", required_argument, 0, 'P'},
        {"busy-poll", no_argument, 0, 'b'},    {0, 0, 0, 0},
    };
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'h': host = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'c': conns = strtol(optarg, NULL, 10); break;
        case 'd': depth = strtol(optarg, NULL, 10); break;
        case 's': size = strtol(optarg, NULL, 10); break;
        case 't': seconds = strtod(optarg, NULL); break;
        case 'w': warmup = strtod(optarg, NULL); break;
        case 'P': server_pid = optarg; break;
        case 'b': busy_poll = 1; break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || conns < 1 || conns > 10000 || depth < 1 || depth > 4096 ||
        size < 1 || size > (64l << 20) || !(seconds > 0) || !(warmup >= 0))
        usage();
    signal(SIGPIPE, SIG_IGN);

    /* A byte sequence from a 32-bit LCG: cheap, and no short period lines up with the sizes. */
    size_t pad = MAX_WRITE > READ_BUF ? MAX_WRITE : READ_BUF;
    pattern = malloc(PATTERN_LEN + pad);
    rbuf = malloc(READ_BUF);
    hist = calloc(BUCKETS, sizeof *hist);
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    if (!pattern || !rbuf || !hist || !cs) die("out of memory");
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PATTERN_LEN; i++) {
        x = x * 1664525u + 1013904223u;
        pattern[i] = (unsigned char)(x >> 24);
    }
    /* Repeat the start after the end, so any window of up to `pad` bytes is one contiguous run. */
    for (size_t i = PATTERN_LEN; i < PATTERN_LEN + pad; i++) pattern[i] = pattern[i - PATTERN_LEN];

    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("bad --host %s", host);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));

    for (long i = 0; i < conns; i++) {
        struct conn *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) die("socket: %s", strerror(errno));
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            die("connect %s:%ld: %s", host, port, strerror(errno));
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl: %s", strerror(errno));
        c->start = ((uint64_t)i * 104729u) % PATTERN_LEN;
        c->sent_at = calloc((size_t)depth, sizeof *c->sent_at);
        if (!c->sent_at) die("out of memory");
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    }

    /* Phases: 0 warm-up, 1 measured window, 2 draining what is still in flight. */
    int phase = warmup > 0 ? 0 : 1;
    uint64_t start = now_ns();
    uint64_t window_at = start + (uint64_t)(warmup * 1e9), end_at = window_at + (uint64_t)(seconds * 1e9);
    uint64_t window_start = start, window_end = 0, drain_deadline = 0, next_stall_check = start + 100000000ull;
    uint64_t msgs = 0;
    struct cpu_snapshot cpu0 = {0}, cpu1 = {0};
    if (phase == 1) snapshot(&cpu0, server_pid);
    for (long i = 0; i < conns; i++) {
        struct conn *c = &cs[i];
        for (long k = 0; k < depth; k++) c->sent_at[k] = start;
        c->queued = (uint64_t)depth * (uint64_t)size;
        c->last_rx = start;
        flush(ep, c);
    }

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, busy_poll ? 0 : 2);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait: %s", strerror(errno));
        }
        uint64_t now = now_ns();
        if (phase == 0 && now >= window_at) {
            snapshot(&cpu0, server_pid);
            window_start = now;
            phase = 1;
        }
        if (phase == 1 && now >= end_at) {
            snapshot(&cpu1, server_pid);
            window_end = now;
            drain_deadline = now + DRAIN_NS;
            phase = 2;
        }
        for (int e = 0; e < n; e++) {
            struct conn *c = evs[e].data.ptr;
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t got = recv(c->fd, rbuf, READ_BUF, 0);
                if (got < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                        die("recv: %s", strerror(errno));
                } else if (got == 0) {
                    die("the server closed a connection (%llu of %llu bytes echoed)",
                        (unsigned long long)c->recvd, (unsigned long long)c->sent);
                } else {
                    if (c->recvd + (uint64_t)got > c->sent)
                        die("the server sent %llu bytes more than it was sent",
                            (unsigned long long)(c->recvd + (uint64_t)got - c->sent));
                    if (memcmp(rbuf, pattern + (c->start + c->recvd) % PATTERN_LEN, (size_t)got) != 0)
                        die("echoed bytes differ from the bytes sent (connection %ld, near byte %llu)",
                            (long)(c - cs), (unsigned long long)c->recvd);
                    c->recvd += (uint64_t)got;
                    c->last_rx = now;
                    uint64_t done = c->recvd / (uint64_t)size;
                    for (uint64_t k = c->completed; k < done; k++) {
                        if (phase == 1) {
                            uint64_t b = (now - c->sent_at[k % (uint64_t)depth]) / BUCKET_NS;
                            hist[b < BUCKETS ? b : BUCKETS - 1]++;
                            msgs++;
                        }
                        if (phase < 2) {
                            c->sent_at[k % (uint64_t)depth] = now; /* slot of message k + depth */
                            c->queued += (uint64_t)size;
                        }
                    }
                    c->completed = done;
                }
            }
            flush(ep, c);
        }
        if (phase == 2) {
            long open = 0;
            for (long i = 0; i < conns; i++) open += cs[i].recvd < cs[i].queued;
            if (!open) break;
            if (now > drain_deadline) die("%ld connection(s) still owed bytes %.0f s after the window", open, DRAIN_NS / 1e9);
        }
        if (now >= next_stall_check) {
            next_stall_check = now + 100000000ull;
            for (long i = 0; i < conns; i++)
                if (cs[i].recvd < cs[i].sent && now - cs[i].last_rx > STALL_NS)
                    die("connection %ld got no bytes back for %.0f s (%llu of %llu echoed)", i, STALL_NS / 1e9,
                        (unsigned long long)cs[i].recvd, (unsigned long long)cs[i].sent);
        }
    }
    for (long i = 0; i < conns; i++) close(cs[i].fd);

    double secs = (double)(window_end - window_start) / 1e9;
    double tick = (double)sysconf(_SC_CLK_TCK);
    double per_core = 100.0 / (tick * secs); /* ticks -> % of one core over the window */
    /* -1 where unknown (no --server-pid, or /proc unreadable) */
    double server_pct = server_pid && cpu0.server >= 0 && cpu1.server >= 0 ? (double)(cpu1.server - cpu0.server) * per_core : -1;
    /* Exact where schedstat is there (a thread that ended within the window takes its time
     * with it: Node's threads live as long as the server). */
    if (server_pid && cpu0.server_ns >= 0 && cpu1.server_ns >= cpu0.server_ns)
        server_pct = (double)(cpu1.server_ns - cpu0.server_ns) / (secs * 1e9) * 100.0;
    /* The server's user-mode share of that: the kernel's part of an echo is about the same for
     * every server (the same system calls), so what separates them is mostly here. */
    double server_user_pct = server_pct >= 0 ? (double)(cpu1.server_user - cpu0.server_user) * per_core : -1;
    double self_pct = (double)(cpu1.self - cpu0.self) * per_core;
    double other_pct = cpu0.machine >= 0 && cpu1.machine >= 0
        ? (double)(cpu1.machine - cpu0.machine) * per_core - self_pct - (server_pct > 0 ? server_pct : 0) : -1;
    long long wakeups = cpu0.server_wakeups >= 0 && cpu1.server_wakeups >= 0 ? cpu1.server_wakeups - cpu0.server_wakeups : -1;
    double rate = (double)msgs / secs;
    printf("%ld conns x depth %ld x %ld B: %.0f msgs/s, %.1f MB/s, p50 %.1f us, p99 %.1f us\n", conns, depth, size,
           rate, rate * (double)size / 1e6, percentile(msgs, 0.50), percentile(msgs, 0.99));
    printf("{\"msgs\":%llu,\"seconds\":%.4f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.2f,"
           "\"p99_us\":%.2f,\"max_us\":%.2f,\"loadgen_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"server_user_cpu_pct\":%.1f,"
           "\"other_cpu_pct\":%.1f,\"server_wakeups\":%lld}\n",
           (unsigned long long)msgs, secs, rate, rate * (double)size / 1e6, percentile(msgs, 0.50),
           percentile(msgs, 0.99), percentile(msgs, 1.0), self_pct,
           server_pct, server_user_pct, other_pct, wakeups);
    return 0;
}
