/* Opening the log manager from the broker's configuration. */
#ifndef SAMSA_SERVER_BROKER_LOGS_H
#define SAMSA_SERVER_BROKER_LOGS_H

struct broker;
struct config;
struct log_config;

/* Load every log under log.dirs into b->logs and start its scheduler; -1 after logging why. */
int broker_open_logs(struct broker *b);

#endif
