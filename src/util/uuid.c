/* Random ids and their base64url form (see uuid.h). */
#include "samsa/util/uuid.h"

#include <string.h>
#include <sys/random.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void uuid_to_base64(const uint8_t id[16], char out[UUID_STR_LEN + 1])
{
	size_t o = 0;
	for (int i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)id[i] << 16;
		if (i + 1 < 16)
			v |= (uint32_t)id[i + 1] << 8;
		if (i + 2 < 16)
			v |= id[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < 16)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < 16)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

int uuid_from_base64(const char *s, uint8_t out[16])
{
	if (strlen(s) != UUID_STR_LEN)
		return -1;
	uint32_t acc = 0;
	int bits = 0, o = 0;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		const char *p = strchr(b64, s[i]);
		if (!p || !s[i])
			return -1;
		acc = (acc << 6) | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < 16)
				out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == 16 ? 0 : -1;
}

bool uuid_is_zero(const uint8_t id[16])
{
	for (int i = 0; i < 16; i++)
		if (id[i])
			return false;
	return true;
}

void uuid_random(uint8_t out[16])
{
	for (;;) {
		size_t got = 0;
		while (got < 16) {
			ssize_t n = getrandom(out + got, 16 - got, 0);
			if (n > 0)
				got += (size_t)n;
		}
		/* Like java.util.UUID.randomUUID, which Kafka uses: version 4, IETF variant. */
		out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
		out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
		/* Kafka reserves 0 (ZERO_UUID) and 1 (METADATA_TOPIC_ID). */
		bool reserved = true;
		for (int i = 0; i < 15; i++)
			if (out[i])
				reserved = false;
		if (reserved && out[15] <= 1)
			continue;
		char s[UUID_STR_LEN + 1];
		uuid_to_base64(out, s);
		if (s[0] != '-')
			return;
	}
}
