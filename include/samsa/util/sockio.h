/* Blocking socket helpers for the few places that talk to brokers synchronously
 * (the controller's channels, the admin CLI); network threads never use these. */
#ifndef SAMSA_UTIL_SOCKIO_H
#define SAMSA_UTIL_SOCKIO_H

#include <stddef.h>

/* Connects within timeout_ms; the socket then blocks with send/receive timeouts
 * of timeout_ms and TCP_NODELAY.  Returns the fd or -1. */
int sock_connect(const char *host, int port, int timeout_ms);
/* 0, or -1 on error, timeout or EOF. */
int sock_write_all(int fd, const void *p, size_t n);
int sock_read_all(int fd, void *p, size_t n);

#endif
