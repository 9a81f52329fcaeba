/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of v2
 * record batches and producer-state snapshots.
 *
 * crc32c() picks the SSE4.2 instruction when the CPU has it and a
 * slicing-by-8 table otherwise; both give the same result.
 */
#ifndef SAMSA_UTIL_CRC32C_H
#define SAMSA_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extend `crc` (0 for a fresh checksum, or the result of an earlier call
 * over the preceding bytes) with len bytes.  crc32c(0, "123456789", 9)
 * is 0xE3069283.
 */
uint32_t crc32c(uint32_t crc, const void *p, size_t len);

/* The two implementations, exposed so tests can compare them. */
uint32_t crc32c_sw(uint32_t crc, const void *p, size_t len);
/* Returns crc32c_sw's result when the CPU lacks SSE4.2. */
uint32_t crc32c_hw(uint32_t crc, const void *p, size_t len);
/* Whether crc32c() uses the CPU instruction. */
int crc32c_hw_available(void);

#endif
