/*
 * libFuzzer target: what a SASL client sends before it is authenticated.  The
 * bytes are a SCRAM client-first message, then (after a NUL, if any) a
 * client-final message, checked against a fixed credential; the same bytes
 * go through PLAIN's, the JAAS parser and the principal-mapping rules, and
 * Kafka's credential string parser.  Nothing may read out of bounds or leak,
 * and a proof the fuzzer cannot know must never verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/jaas.h"
#include "samsa/util/scram.h"
#include "samsa/util/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t first_len = nul ? (size_t)(nul - data) : size;
	struct scram_server s;
	if (scram_server_first(&s, SCRAM_SHA_256, data, first_len)) {
		uint8_t salt[16] = { 7 }, salted[SCRAM_MAX_HASH];
		struct scram_credential cred;
		memset(salted, 0x5a, sizeof salted);
		scram_credential_from_salted(SCRAM_SHA_256, salt, sizeof salt, salted, 4096, &cred);
		free(scram_server_challenge(&s, &cred));
		if (nul) {
			char *v = scram_server_final(&s, nul + 1, size - first_len - 1);
			if (v)
				abort(); /* a random message passed the proof */
		}
	}
	scram_server_clear(&s);
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	struct jaas_option *o;
	int n;
	jaas_parse(text, &o, &n);
	jaas_free(o, n);
	char out[256], err[256];
	if (tls_principal_rules_check(text, err, sizeof err) == 0)
		tls_map_principal("CN=fuzz,O=test", text, out, sizeof out);
	struct scram_credential c;
	scram_credential_parse(SCRAM_SHA_512, text, &c);
	free(text);
	return 0;
}
