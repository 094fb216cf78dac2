// Minimal keep-alive HTTP responder on io_uring (bench/wrk-ceiling.sh): a fixed 200 per request.
// MODE 1: SINGLE_ISSUER|DEFER_TASKRUN rings, 2: COOP_TASKRUN|TASKRUN_FLAG, 0: plain rings.
// Multishot accept, a recv per connection re-armed, sends as ring entries, one enter per turn.
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
static const char R[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
enum { ACC = 1, RECV = 2, SEND = 3 };
#define MAXC 4096
static char bufs[MAXC][4096];
static struct io_uring ring;
static struct io_uring_sqe* sqe(void) { struct io_uring_sqe* s = io_uring_get_sqe(&ring); if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); } return s; }
static void arm_recv(int fd) { struct io_uring_sqe* s = sqe(); io_uring_prep_recv(s, fd, bufs[fd], sizeof bufs[fd], 0); io_uring_sqe_set_data64(s, ((uint64_t)RECV << 32) | fd); }
int main(int argc, char** argv) {
  int port = atoi(argv[1]), flags = argc > 2 ? atoi(argv[2]) : 2;
  struct io_uring_params p = {0};
  if (flags == 1) p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (flags == 2) p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int rc = io_uring_queue_init_params(1024, &ring, &p);
  if (rc < 0) { fprintf(stderr, "init: %s\n", strerror(-rc)); return 1; }
  int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (void*)&a, sizeof a); listen(l, 1024);
  struct io_uring_sqe* s = sqe(); io_uring_prep_multishot_accept(s, l, 0, 0, 0); io_uring_sqe_set_data64(s, (uint64_t)ACC << 32);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* c; unsigned head, n = 0;
    io_uring_for_each_cqe(&ring, head, c) {
      n++;
      int kind = c->user_data >> 32, fd = (int)(c->user_data & 0xffffffff), res = c->res;
      if (kind == ACC) { if (res >= 0 && res < MAXC) { setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); arm_recv(res); } continue; }
      if (kind == RECV) {
        if (res <= 0) { close(fd); continue; }
        int reqs = 0; char* b = bufs[fd];
        for (int j = 3; j < res; j++) if (b[j] == '\n' && b[j-1] == '\r' && b[j-2] == '\n' && b[j-3] == '\r') reqs++;
        for (int k = 0; k < reqs; k++) { struct io_uring_sqe* w = sqe(); io_uring_prep_send(w, fd, R, sizeof R - 1, MSG_NOSIGNAL); io_uring_sqe_set_data64(w, ((uint64_t)SEND << 32) | fd); }
        arm_recv(fd);
      }
    }
    io_uring_cq_advance(&ring, n);
  }
}
