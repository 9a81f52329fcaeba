/*
 * CRC-32C: the known check value, and the instruction path (three interleaved
 * chains joined by shift tables on long buffers) against the table path for
 * every length around the block boundaries, at every alignment, in pieces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "samsa/util/crc32c.h"

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_hw(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* 32 zero bytes: a value from RFC 3720 (iSCSI) B.4. */
	uint8_t z[32] = { 0 };
	assert_int_equal(crc32c(0, z, sizeof z), 0x8A9136AAu);
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

static void test_hw_matches_sw(void **state)
{
	(void)state;
	enum { MAX = 3 * 8192 * 2 + 3 * 256 + 64 };
	uint8_t *buf = random_bytes(MAX + 8);
	/* Every length up to a few short blocks, then lengths around each boundary. */
	size_t lens[] = { 767, 768, 769, 775, 776, 1535, 1536, 1537, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1,
			  3 * 8192 + 768, 3 * 8192 + 775, 2 * 3 * 8192, 2 * 3 * 8192 + 3 * 256 + 7, MAX };
	for (size_t len = 0; len <= 2400; len++)
		for (size_t a = 0; a < 8; a += 3)
			assert_int_equal(crc32c_hw(0, buf + a, len), crc32c_sw(0, buf + a, len));
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		for (size_t a = 0; a < 8; a++)
			assert_int_equal(crc32c_hw(7, buf + a, lens[i]), crc32c_sw(7, buf + a, lens[i]));
	free(buf);
}

static void test_pieces_extend(void **state)
{
	(void)state;
	enum { N = 100000 };
	uint8_t *buf = random_bytes(N);
	uint32_t whole = crc32c(0, buf, N);
	uint32_t c = 0;
	size_t at = 0, step = 1;
	while (at < N) {
		size_t n = step < N - at ? step : N - at;
		c = crc32c(c, buf + at, n);
		at += n;
		step = step * 3 + 1;
	}
	assert_int_equal(c, whole);
	assert_int_equal(crc32c_sw(0, buf, N), whole);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_hw_matches_sw),
		cmocka_unit_test(test_pieces_extend),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
