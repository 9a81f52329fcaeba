/*
 * Re-compression of produced batches, for a topic whose compression.type
 * names a codec [Kafka's LogValidator, "compressed to compressed" and
 * friends].  The records inside a v2 batch are the same bytes whatever the
 * codec, so a batch is rewritten by swapping its records region and fixing
 * Length, the codec bits of Attributes and the CRC; every other header
 * field (producer id, sequence, timestamps) is kept.
 */
#ifndef SAMSA_LOG_RECOMPRESS_H
#define SAMSA_LOG_RECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Whether any v2 batch in the validated records is not in codec `to`. */
bool records_need_recompress(const uint8_t *p, size_t len, int to);

/*
 * Append the batches in [p, p+len) (already validated) to out, each in codec
 * `to` at `level`; batches already in `to` are copied unchanged.  plain is
 * scratch for decompressed records (reused, never freed here).  Returns
 * KERR_NONE, or the first error (out is then back where it was).
 */
int records_recompress(const uint8_t *p, size_t len, int to, int level, struct wbuf *plain, struct wbuf *out);

#endif
