/* Opening the log manager from the broker's configuration. */
#ifndef SAMSA_SERVER_BROKER_LOGS_H
#define SAMSA_SERVER_BROKER_LOGS_H

struct broker;
struct config;
struct log_config;

/* The broker-wide log.* settings as the default topic log config. */
void broker_log_defaults(const struct config *cfg, struct log_config *c);
/* Load every log under log.dirs into b->logs and start its scheduler; -1 after logging why. */
int broker_open_logs(struct broker *b);

#endif
