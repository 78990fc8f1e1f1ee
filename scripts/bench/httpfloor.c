/*
 * The latency floor of the API benchmark: the least a server can do per
 * request. One thread, epoll, HTTP/1.1 keep-alive; every request (up to its
 * blank line) gets the same 200 with a 400-byte JSON body, about the size
 * of one service object. It prints its port, then serves until SIGTERM.
 *
 *   httpfloor            (listens on 127.0.0.1, a free port)
 *
 * bench.py runs wrk against it during the same storm as oneinit's API, so
 * the report can tell the machine's tail (a saturated 2-core box, wrk
 * itself waiting for a CPU) from oneinit's own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 1024
#define BUF 8192

static char inbuf[MAX_CONN][BUF];
static size_t inlen[MAX_CONN];
static char response[1024];
static size_t response_len;

static void close_conn(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if (fd < MAX_CONN)
        inlen[fd] = 0;
}

/* Answers every complete request in the connection's buffer. */
static int serve(int fd) {
    for (;;) {
        char *end = memmem(inbuf[fd], inlen[fd], "\r\n\r\n", 4);
        if (!end)
            return 0;
        size_t used = (size_t)(end - inbuf[fd]) + 4;
        if (write(fd, response, response_len) != (ssize_t)response_len)
            return -1;
        memmove(inbuf[fd], inbuf[fd] + used, inlen[fd] - used);
        inlen[fd] -= used;
    }
}

int main(void) {
    char body[401];
    memset(body, 'x', 400);
    body[0] = '{';
    body[1] = '"';
    body[2] = 'x';
    body[3] = '"';
    body[4] = ':';
    body[5] = '"';
    body[398] = '"';
    body[399] = '}';
    body[400] = 0;
    response_len = (size_t)snprintf(response, sizeof response,
                                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                    "content-length: 400\r\n\r\n%s",
                                    body);
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 512) ||
        getsockname(ls, (struct sockaddr *)&a, &alen)) {
        perror("httpfloor: listen");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (c >= MAX_CONN) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = read(fd, inbuf[fd] + inlen[fd], BUF - inlen[fd]);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                close_conn(ep, fd);
                continue;
            }
            inlen[fd] += (size_t)r;
            if (serve(fd) < 0 || inlen[fd] == BUF)
                close_conn(ep, fd);
        }
    }
}
