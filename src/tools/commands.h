/* The admin CLI's subcommands, one file each. */
#ifndef SAMSA_TOOLS_COMMANDS_H
#define SAMSA_TOOLS_COMMANDS_H

#include <stdbool.h>

/* Takes --command-config FILE out of argv and secures every later connection as it says;
 * 0, or -1 after saying why. */
int command_config_apply(int *argc, char **argv);

/* argv[1] is the subcommand's name; options start at argv[2]. Returns the exit status. */
int cmd_topics(int argc, char **argv);
/* Offline: print and verify segment files; 0 fine, 1 problems, 2 usage. */
int cmd_dump_log(int argc, char **argv);
/* List, describe and delete consumer groups, reset their offsets; 0 fine, 1 errors, 2 usage. */
int cmd_consumer_groups(int argc, char **argv);
/* Describe brokers' log dirs as JSON, like kafka-log-dirs.sh; 0 fine, 1 errors, 2 usage. */
int cmd_log_dirs(int argc, char **argv);
/* Users' SCRAM credentials, like kafka-configs.sh --entity-type users; 0 fine, 1 errors, 2 usage. */
int cmd_configs(int argc, char **argv);
/* List and describe transactions, like kafka-transactions.sh; 0 fine, 1 errors, 2 usage. */
int cmd_transactions(int argc, char **argv);
/* Add, remove and list ACLs, like kafka-acls.sh; 0 fine, 1 errors, 2 usage. */
int cmd_acls(int argc, char **argv);

/* The newer admin commands (admin_client.c): 0 fine, 1 on any failure, after one line on stderr. */
int cmd_get_offsets(int argc, char **argv);
int cmd_delete_records(int argc, char **argv);
int cmd_leader_election(int argc, char **argv);
int cmd_reassign_partitions(int argc, char **argv);
/* On librdkafka (built only when configure found it: HAVE_RDKAFKA). */
int cmd_producer_perf_test(int argc, char **argv);
int cmd_consumer_perf_test(int argc, char **argv);

#endif
