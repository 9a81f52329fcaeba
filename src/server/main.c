/*
 * samsa-server CONFIG [--override key=value]...
 *
 * Loads a Kafka server.properties, starts the broker and waits for SIGTERM or
 * SIGINT; any start-up problem is reported and ends the process with status 1.
 */
#include "samsa-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "samsa/config.h"
#include "samsa/util/log.h"
#include "server/broker.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: samsa-server CONFIG [--override key=value]...\n"
		     "       samsa-server --version\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("samsa-server %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *path = argv[1];
	char **overrides = calloc((size_t)argc, sizeof *overrides);
	int n_overrides = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--override") == 0 && i + 1 < argc) {
			overrides[n_overrides++] = argv[++i];
		} else if (strncmp(argv[i], "--override=", 11) == 0) {
			overrides[n_overrides++] = argv[i] + 11;
		} else {
			fprintf(stderr, "samsa-server: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			free(overrides);
			return 1;
		}
	}

	char *err = NULL;
	struct config *cfg = config_load(path, overrides, n_overrides, &err);
	free(overrides);
	if (!cfg) {
		log_error("Invalid configuration: %s", err ? err : "unknown error");
		free(err);
		return 1;
	}

	/* Signals are taken synchronously by this thread; every other thread inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct broker b;
	memset(&b, 0, sizeof b);
	b.config = cfg;
	b.bc = config_broker(cfg);
	int status = 0;
	if (broker_start(&b) != 0) {
		status = 1;
	} else {
		int sig = 0;
		sigwait(&set, &sig);
		log_info("Received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	}
	broker_shutdown(&b);
	config_free(cfg);
	return status;
}
