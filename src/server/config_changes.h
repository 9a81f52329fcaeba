/* The broker's listener on /config/changes (see config_changes.c). */
#ifndef SAMSA_SERVER_CONFIG_CHANGES_H
#define SAMSA_SERVER_CONFIG_CHANGES_H

struct broker;
struct config_changes;

/* Starts watching (b->zk and b->logs must be up); NULL after logging why. */
struct config_changes *config_changes_start(struct broker *b);
/* Joins the thread; the watch may still fire until ZooKeeper is closed. */
void config_changes_stop(struct config_changes *cc);
/* After zk_close: nothing can call into it any more. */
void config_changes_free(struct config_changes *cc);

#endif
