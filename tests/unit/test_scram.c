/*
 * SCRAM against RFC 7677's SCRAM-SHA-256 example, both sides, byte for byte;
 * Kafka's credential string; what a server must refuse (a wrong proof,
 * malformed messages, a nonce that is not its own); a SHA-512 round trip.
 * Also the JAAS option parser and ssl.principal.mapping.rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "samsa/util/jaas.h"
#include "samsa/util/scram.h"
#include "samsa/util/tls.h"

#define C1 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define S1 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define C2 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define S2 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const uint8_t *u(const char *s) { return (const uint8_t *)s; }

static void rfc_credential(struct scram_credential *c)
{
	uint8_t salt[32], salted[SCRAM_MAX_HASH];
	long n = scram_unb64("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
	assert_int_equal(n, 16);
	scram_salted_password(SCRAM_SHA_256, "pencil", salt, (size_t)n, 4096, salted);
	scram_credential_from_salted(SCRAM_SHA_256, salt, (size_t)n, salted, 4096, c);
}

static void test_client_rfc7677(void **state)
{
	(void)state;
	struct scram_client c;
	char *first = scram_client_first_nonce(&c, SCRAM_SHA_256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
	assert_string_equal(first, C1);
	char *final = scram_client_final(&c, u(S1), strlen(S1));
	assert_non_null(final);
	assert_string_equal(final, C2);
	assert_true(scram_client_verify(&c, u(S2), strlen(S2)));
	assert_false(scram_client_verify(&c, u("v=AAAA"), 6));
	free(first);
	free(final);
	scram_client_clear(&c);
}

static void test_server_rfc7677(void **state)
{
	(void)state;
	struct scram_credential cred;
	rfc_credential(&cred);
	struct scram_server s;
	assert_true(scram_server_first_nonce(&s, SCRAM_SHA_256, u(C1), strlen(C1), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
	assert_string_equal(s.user, "user");
	char *challenge = scram_server_challenge(&s, &cred);
	assert_string_equal(challenge, S1);
	char *final = scram_server_final(&s, u(C2), strlen(C2));
	assert_non_null(final);
	assert_string_equal(final, S2);
	free(challenge);
	free(final);
	scram_server_clear(&s);
}

static void test_server_refuses(void **state)
{
	(void)state;
	struct scram_credential cred;
	rfc_credential(&cred);
	struct scram_server s;
	/* A proof made with another password. */
	assert_true(scram_server_first_nonce(&s, SCRAM_SHA_256, u(C1), strlen(C1), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
	free(scram_server_challenge(&s, &cred));
	const char *bad = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	assert_null(scram_server_final(&s, u(bad), strlen(bad)));
	/* Another nonce, a missing proof, a proof of the wrong length. */
	const char *nonce = "c=biws,r=somebodyelse,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	assert_null(scram_server_final(&s, u(nonce), strlen(nonce)));
	const char *noproof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	assert_null(scram_server_final(&s, u(noproof), strlen(noproof)));
	const char *shortp = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
	assert_null(scram_server_final(&s, u(shortp), strlen(shortp)));
	scram_server_clear(&s);
	/* Malformed client-first messages. */
	const char *firsts[] = { "", "n", "n,,", "x,,n=user,r=abc", "n,,r=abc", "n,,n=,r=abc", "n,,n=us=er,r=abc",
				 "n,,n=user", "n,,n=user,r=" };
	for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
		assert_false(scram_server_first(&s, SCRAM_SHA_256, u(firsts[i]), strlen(firsts[i])));
		scram_server_clear(&s);
	}
	/* A NUL inside is refused too. */
	assert_false(scram_server_first(&s, SCRAM_SHA_256, u("n,,n=a\0b,r=x"), 12));
	scram_server_clear(&s);
	/* An escaped name is unescaped. */
	assert_true(scram_server_first(&s, SCRAM_SHA_256, u("n,,n=a=2Cb=3Dc,r=x"), 18));
	assert_string_equal(s.user, "a,b=c");
	scram_server_clear(&s);
}

static void test_round_trip_sha512(void **state)
{
	(void)state;
	/* Our client against our server with SHA-512 and random nonces (librdkafka's repeated
	 * nonce is covered by test_sasl.py against librdkafka itself). */
	uint8_t salt[24] = { 1, 2, 3 }, salted[SCRAM_MAX_HASH];
	scram_salted_password(SCRAM_SHA_512, "secret", salt, sizeof salt, 4096, salted);
	struct scram_credential cred;
	scram_credential_from_salted(SCRAM_SHA_512, salt, sizeof salt, salted, 4096, &cred);
	struct scram_client c;
	struct scram_server s;
	char *first = scram_client_first(&c, SCRAM_SHA_512, "al,ice", "secret");
	assert_true(scram_server_first(&s, SCRAM_SHA_512, u(first), strlen(first)));
	assert_string_equal(s.user, "al,ice");
	char *challenge = scram_server_challenge(&s, &cred);
	char *final = scram_client_final(&c, u(challenge), strlen(challenge));
	char *v = scram_server_final(&s, u(final), strlen(final));
	assert_non_null(v);
	assert_true(scram_client_verify(&c, u(v), strlen(v)));
	free(first);
	free(challenge);
	free(final);
	free(v);
	scram_server_clear(&s);
	scram_client_clear(&c);
}

static void test_credential_string(void **state)
{
	(void)state;
	struct scram_credential c, back;
	rfc_credential(&c);
	char *s = scram_credential_format(SCRAM_SHA_256, &c);
	assert_true(scram_credential_parse(SCRAM_SHA_256, s, &back));
	assert_memory_equal(c.stored_key, back.stored_key, 32);
	assert_memory_equal(c.server_key, back.server_key, 32);
	assert_int_equal(back.iterations, 4096);
	assert_int_equal(back.salt_len, 16);
	/* The same string does not parse as SHA-512 (its keys are 32 bytes, not 64). */
	assert_false(scram_credential_parse(SCRAM_SHA_512, s, &back));
	free(s);
	const char *bad[] = { "", "salt=", "salt=!!!!,stored_key=AAAA,server_key=AAAA,iterations=1",
			      "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(scram_credential_parse(SCRAM_SHA_256, bad[i], &back));
}

static void test_jaas(void **state)
{
	(void)state;
	struct jaas_option *o;
	int n;
	assert_int_equal(jaas_parse("org.apache.kafka.common.security.plain.PlainLoginModule required "
				    "username=\"admin\" password=\"a b;c\" user_alice=alice-secret;", &o, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(o[0].key, "username");
	assert_string_equal(o[0].value, "admin");
	assert_string_equal(o[1].value, "a b;c");
	assert_string_equal(o[2].key, "user_alice");
	assert_string_equal(o[2].value, "alice-secret");
	jaas_free(o, n);
	const char *bad[] = { "", "Module", "Module required username=\"x", "Module required username", "Module required a=b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(jaas_parse(bad[i], &o, &n), -1);
		jaas_free(o, n);
	}
}

static void test_principal_rules(void **state)
{
	(void)state;
	char out[256];
	tls_map_principal("CN=Alice,O=example", "DEFAULT", out, sizeof out);
	assert_string_equal(out, "CN=Alice,O=example");
	tls_map_principal("CN=Alice,O=example", "RULE:^CN=(.*),O=example$/$1/L,DEFAULT", out, sizeof out);
	assert_string_equal(out, "alice");
	tls_map_principal("CN=Bob,O=other", "RULE:^CN=(.*),O=example$/$1/L,DEFAULT", out, sizeof out);
	assert_string_equal(out, "CN=Bob,O=other");
	tls_map_principal("CN=bob,O=x", "RULE:^CN=(.*),O=(.*)$/$2-$1/U", out, sizeof out);
	assert_string_equal(out, "X-BOB");
	char err[256];
	assert_int_equal(tls_principal_rules_check("RULE:^CN=(.*)$/$1/,DEFAULT", err, sizeof err), 0);
	assert_int_equal(tls_principal_rules_check("RULE:^CN=(.*)$", err, sizeof err), -1);
	assert_int_equal(tls_principal_rules_check("NONSENSE", err, sizeof err), -1);
	assert_int_equal(tls_principal_rules_check("RULE:([/x/", err, sizeof err), -1);
	/* Stacked repetitions (found by fuzz_sasl: glibc's regcomp grows without bound on them). */
	assert_int_equal(tls_principal_rules_check("RULE:^CN=a++++++++$/x/", err, sizeof err), -1);
	assert_int_equal(tls_principal_rules_check("RULE:^CN=(.*?),O=x$/$1/", err, sizeof err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_rfc7677),   cmocka_unit_test(test_server_rfc7677),
		cmocka_unit_test(test_server_refuses),   cmocka_unit_test(test_round_trip_sha512),
		cmocka_unit_test(test_credential_string), cmocka_unit_test(test_jaas),
		cmocka_unit_test(test_principal_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
