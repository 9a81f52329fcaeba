/*
 * CRC-32C, in software (slicing-by-8) and with SSE4.2's crc32 instruction
 * (three chains at once on long buffers).  The choice is made once, on first
 * use, from what the CPU reports.
 */
#include "samsa/util/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "samsa/util/endian.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_X86 1
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	/* table[k][i]: the CRC of byte i followed by k zero bytes. */
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&table_once, table_init);
	crc = ~crc;
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint32_t lo = le32_load(p) ^ crc;
		uint32_t hi = le32_load(p + 4);
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#ifdef CRC32C_X86
/*
 * The crc32 instruction takes three cycles but can start one every cycle, so one
 * chain of them runs at a third of the speed the CPU allows.  Three independent
 * chains over three adjacent blocks of a long buffer keep it busy; their results are
 * then joined.  Joining uses linearity: running the CRC register over a block B from
 * a state s gives shift_B(s) ^ (the register run over B from 0), where shift_B(s)
 * is s followed by |B| zero bytes, a linear map of s, so a table lookup per byte of
 * s for a fixed |B|.
 */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t run_zeros(uint32_t c, size_t len)
{
	uint64_t r = c;
	for (size_t i = 0; i < len; i += 8)
		r = _mm_crc32_u64(r, 0);
	return (uint32_t)r;
}

/* t[k][b]: the register b << 8k after len zero bytes, from the single bits' images. */
static void shift_table(uint32_t t[4][256], size_t len)
{
	uint32_t bit[32];
	for (int i = 0; i < 32; i++)
		bit[i] = run_zeros(1u << i, len);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int i = 0; i < 8; i++)
				if (b & (1u << i))
					v ^= bit[8 * k + i];
			t[k][b] = v;
		}
}

static void shift_init(void)
{
	shift_table(shift_long, LONG_BLOCK);
	shift_table(shift_short, SHORT_BLOCK);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t c)
{
	return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

/* Three chains over the next 3 * block bytes at p, joined into c. */
__attribute__((target("sse4.2"))) static inline uint64_t run3(uint64_t c, const uint8_t *p, size_t block,
							      uint32_t t[4][256])
{
	uint64_t c1 = 0, c2 = 0;
	for (const uint8_t *end = p + block; p < end; p += 8) {
		uint64_t v0, v1, v2;
		memcpy(&v0, p, 8);
		memcpy(&v1, p + block, 8);
		memcpy(&v2, p + 2 * block, 8);
		c = _mm_crc32_u64(c, v0);
		c1 = _mm_crc32_u64(c1, v1);
		c2 = _mm_crc32_u64(c2, v2);
	}
	c = shift(t, (uint32_t)c) ^ c1;
	return shift(t, (uint32_t)c) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * SHORT_BLOCK)
		pthread_once(&shift_once, shift_init);
	while (len >= 3 * LONG_BLOCK) {
		c = run3(c, p, LONG_BLOCK, shift_long);
		p += 3 * LONG_BLOCK;
		len -= 3 * LONG_BLOCK;
	}
	while (len >= 3 * SHORT_BLOCK) {
		c = run3(c, p, SHORT_BLOCK, shift_short);
		p += 3 * SHORT_BLOCK;
		len -= 3 * SHORT_BLOCK;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

static int hw_state = -1; /* -1 not probed yet, 0 no, 1 yes */

int crc32c_hw_available(void)
{
	int s = __atomic_load_n(&hw_state, __ATOMIC_RELAXED);
	if (s < 0) {
#ifdef CRC32C_X86
		__builtin_cpu_init();
		s = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
		s = 0;
#endif
		__atomic_store_n(&hw_state, s, __ATOMIC_RELAXED);
	}
	return s;
}

uint32_t crc32c_hw(uint32_t crc, const void *p, size_t len)
{
#ifdef CRC32C_X86
	if (crc32c_hw_available())
		return crc32c_sse42(crc, p, len);
#endif
	return crc32c_sw(crc, p, len);
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
	return crc32c_hw(crc, p, len);
}
