/*
 * Byte order: loads and stores of fixed-width integers at any byte address.
 *
 * Kafka's wire protocol, record batches, index files and snapshots are all
 * big-endian; only the LZ4 frame format and CRC32C's word-at-a-time loop want
 * little-endian.  Every helper copies through memcpy, so an unaligned pointer
 * or one into a char buffer is fine (no aliasing or alignment UB), and the
 * compiler turns each into one load or store plus a byte swap.  They do no
 * bounds checks: the bounds-checked reader in samsa/util/buf.h is built on them.
 */
#ifndef SAMSA_UTIL_ENDIAN_H
#define SAMSA_UTIL_ENDIAN_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SAMSA_HOST_BE 1
#else
#define SAMSA_HOST_BE 0
#endif

static inline uint16_t endian_swap16(uint16_t v) { return (uint16_t)((v >> 8) | (v << 8)); }
static inline uint32_t endian_swap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t endian_swap64(uint64_t v) { return __builtin_bswap64(v); }

/* Host order to and from big-endian. */
static inline uint16_t endian_be16(uint16_t v) { return SAMSA_HOST_BE ? v : endian_swap16(v); }
static inline uint32_t endian_be32(uint32_t v) { return SAMSA_HOST_BE ? v : endian_swap32(v); }
static inline uint64_t endian_be64(uint64_t v) { return SAMSA_HOST_BE ? v : endian_swap64(v); }
/* Host order to and from little-endian. */
static inline uint32_t endian_le32(uint32_t v) { return SAMSA_HOST_BE ? endian_swap32(v) : v; }
static inline uint64_t endian_le64(uint64_t v) { return SAMSA_HOST_BE ? endian_swap64(v) : v; }

static inline uint16_t be16_load(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return endian_be16(v);
}

static inline uint32_t be32_load(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return endian_be32(v);
}

static inline uint64_t be64_load(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return endian_be64(v);
}

static inline void be16_store(void *p, uint16_t v)
{
	v = endian_be16(v);
	memcpy(p, &v, sizeof v);
}

static inline void be32_store(void *p, uint32_t v)
{
	v = endian_be32(v);
	memcpy(p, &v, sizeof v);
}

static inline void be64_store(void *p, uint64_t v)
{
	v = endian_be64(v);
	memcpy(p, &v, sizeof v);
}

static inline uint32_t le32_load(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return endian_le32(v);
}

static inline uint64_t le64_load(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return endian_le64(v);
}

static inline void le32_store(void *p, uint32_t v)
{
	v = endian_le32(v);
	memcpy(p, &v, sizeof v);
}

#endif
