// Minimal keep-alive HTTP responder on epoll (bench/wrk-ceiling.sh): a fixed 200 per request.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
static const char R[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
int main(int argc, char** argv) {
  int port = atoi(argv[1]);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (void*)&a, sizeof a); listen(l, 1024);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  struct epoll_event evs[256]; char buf[4096];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) { int c; while ((c = accept4(l, 0, 0, SOCK_NONBLOCK)) >= 0) { setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = c}; epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);} continue; }
      for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && !(errno == EAGAIN))) { close(fd); break; }
        if (r < 0) break;
        int reqs = 0; for (ssize_t j = 3; j < r; j++) if (buf[j] == '\n' && buf[j-1] == '\r' && buf[j-2] == '\n' && buf[j-3] == '\r') reqs++;
        for (int k = 0; k < reqs; k++) send(fd, R, sizeof R - 1, MSG_NOSIGNAL);
        if (r < (ssize_t)sizeof buf) break;  // edge-triggered: drained (peer sends one request at a time)
      }
    }
  }
}
