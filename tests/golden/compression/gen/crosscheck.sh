#!/bin/sh
# The other direction of the golden files: what samsa compresses must be read
# by the reference decoders -- gzip(1), lz4(1), zstd(1) and snappy-java's
# SnappyInputStream (what Kafka's Java consumer uses).  Not part of
# `make check` (it needs a JDK and the command-line tools).
#   tests/golden/compression/gen/crosscheck.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

cat > emit.c <<'EOF'
/* Compress argv[1] with every codec into argv[2].<ext>. */
#include <stdio.h>
#include "samsa/log.h"
int main(int argc, char **argv)
{
	static const char *ext[] = { 0, "gz", "snappy", "lz4", "zst" };
	static unsigned char buf[1 << 24];
	FILE *f = fopen(argv[1], "rb");
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	for (int c = 1; c <= 4; c++) {
		struct wbuf z;
		char path[512];
		wbuf_init(&z);
		if (compression_compress(c, compression_level_default(c), buf, n, &z))
			return 1;
		snprintf(path, sizeof path, "%s.%s", argv[2], ext[c]);
		f = fopen(path, "wb");
		fwrite(z.data, 1, z.len, f);
		fclose(f);
		wbuf_free(&z);
	}
	return argc != 3;
}
EOF
cat > Unsnappy.java <<'EOF'
import java.io.*;
import java.nio.file.*;
import java.util.Arrays;
import org.xerial.snappy.SnappyInputStream;
public class Unsnappy {
	public static void main(String[] a) throws Exception {
		byte[] z = Files.readAllBytes(Paths.get(a[0]));
		byte[] want = Files.readAllBytes(Paths.get(a[1]));
		try (InputStream is = new SnappyInputStream(new ByteArrayInputStream(z))) {
			if (!Arrays.equals(is.readAllBytes(), want))
				throw new IllegalStateException(a[0] + ": snappy-java reads something else");
		}
	}
}
EOF
cc -std=gnu11 -O2 -I"$top/src" -I"$top/include" emit.c "$top/src/log/compression.c" "$top/src/util/buf.c" \
	"$top/src/util/xalloc.c" "$top/src/util/log.c" -lz -llz4 -lzstd -lsnappy -lpthread -o emit
javac -d . -cp /usr/share/java/snappy-java.jar Unsnappy.java

: > empty
head -c 5000 /dev/urandom > random
for i in $(seq 1 20000); do echo "record $i: the quick brown fox jumps over the lazy dog"; done > text
cat text random text > mixed
for f in empty random text mixed; do
	./emit $f out-$f
	gzip -dc < out-$f.gz | cmp - $f
	lz4 -dc < out-$f.lz4 | cmp - $f
	zstd -qdc < out-$f.zst | cmp - $f
	java -cp .:/usr/share/java/snappy-java.jar Unsnappy out-$f.snappy $f
	echo "$f: gzip, lz4, zstd and snappy-java read samsa's output"
done
