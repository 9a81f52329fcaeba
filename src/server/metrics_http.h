/*
 * The Prometheus metrics endpoint (samsa.metrics.listener, off by default):
 * an HTTP listener on its own thread answering GET /metrics in Prometheus'
 * text format.  docs/metrics.md lists what it exports.
 */
#ifndef SAMSA_SERVER_METRICS_HTTP_H
#define SAMSA_SERVER_METRICS_HTTP_H

struct broker;
struct metrics_http;

/* "http://HOST:PORT" (HOST may be [v6]; a trailing / or /metrics is allowed) into a
 * malloc'd host and a port; 0, or -1 when it does not have that shape. */
int metrics_http_parse_listener(const char *spec, char **host, int *port);
/* Listen as spec says and serve b's metrics; NULL (logged) when spec is bad or the bind fails. */
struct metrics_http *metrics_http_start(struct broker *b, const char *spec);
/* The bound port (the chosen one when spec said port 0). */
int metrics_http_port(const struct metrics_http *m);
/* Stop listening and join the thread (NULL is fine). */
void metrics_http_stop(struct metrics_http *m);

#endif
