/*
 * A JAAS config line as Kafka's sasl.jaas.config takes it:
 * "<LoginModule class> <flag> key="value" key=value ...;".  Only the options
 * matter here: PLAIN's user_<name> entries on a broker, username and password
 * for a client.
 */
#ifndef SAMSA_UTIL_JAAS_H
#define SAMSA_UTIL_JAAS_H

struct jaas_option {
	char *key, *value;
};
/* 0, or -1 when the line is not that shape; free with jaas_free either way. */
int jaas_parse(const char *text, struct jaas_option **out, int *n);
/* Frees the options, wiping the values (passwords). */
void jaas_free(struct jaas_option *o, int n);

#endif
