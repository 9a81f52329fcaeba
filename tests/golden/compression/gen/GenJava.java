// Compress record plaintexts the way Kafka's Java client does (Kafka 3.9's
// SnappyCompression and GzipCompression wrap these JDK / snappy-java streams),
// and check that snappy-java reads what we expect it to read.
//
//   javac -d /tmp GenJava.java -cp /usr/share/java/snappy-java.jar
//   java -cp /tmp:/usr/share/java/snappy-java.jar GenJava OUTDIR PLAIN...
//
// Appends lines to OUTDIR/MANIFEST.java.
import java.io.*;
import java.nio.file.*;
import java.util.*;
import java.util.zip.GZIPOutputStream;
import org.xerial.snappy.SnappyInputStream;
import org.xerial.snappy.SnappyOutputStream;

public class GenJava {
	static String snappyVersion() {
		Package p = SnappyOutputStream.class.getPackage();
		String v = p == null ? null : p.getImplementationVersion();
		return v == null ? "1.1.8.3" : v;
	}

	/* Kafka's SnappyCompression.wrapForOutput: SnappyOutputStream, default 32 KiB blocks. */
	static byte[] snappy(byte[] in) throws IOException {
		ByteArrayOutputStream bos = new ByteArrayOutputStream();
		try (OutputStream os = new SnappyOutputStream(bos)) {
			// Kafka writes records one at a time; mimic with uneven chunks.
			for (int off = 0; off < in.length;) {
				int n = Math.min(in.length - off, 1000 + off % 777);
				os.write(in, off, n);
				off += n;
			}
		}
		return bos.toByteArray();
	}

	/* Kafka's GzipCompression.wrapForOutput: 8 KiB deflate buffer, level, 16 KiB buffering. */
	static byte[] gzip(byte[] in, int level) throws IOException {
		ByteArrayOutputStream bos = new ByteArrayOutputStream();
		GZIPOutputStream gz = new GZIPOutputStream(bos, 8 * 1024) {
			{ def.setLevel(level); }
		};
		try (OutputStream os = new BufferedOutputStream(gz, 16 * 1024)) {
			os.write(in);
		}
		return bos.toByteArray();
	}

	static byte[] unsnappy(byte[] z) throws IOException {
		try (InputStream is = new SnappyInputStream(new ByteArrayInputStream(z))) {
			return is.readAllBytes();
		}
	}

	static List<String> manifest = new ArrayList<>();
	static Path outdir;

	/* plain names a plaintext file already in outdir. */
	static void emit(String codec, String name, byte[] z, String plain, String producer) throws IOException {
		Files.write(outdir.resolve(name + ".bin"), z);
		manifest.add(codec + " 2 " + name + ".bin " + plain + " " + producer);
		System.out.println(manifest.get(manifest.size() - 1) + " " + z.length);
	}

	public static void main(String[] args) throws Exception {
		outdir = Paths.get(args[0]);
		String sv = "snappy-java-" + snappyVersion();
		String jv = "jdk-" + System.getProperty("java.version");
		for (int i = 1; i < args.length; i++) {
			byte[] plain = Files.readAllBytes(Paths.get(args[i]));
			String pname = Paths.get(args[i]).getFileName().toString();
			String base = pname.replaceAll("^records-", "").replaceAll("\\.plain$", "");
			byte[] s = snappy(plain);
			if (!Arrays.equals(unsnappy(s), plain))
				throw new IllegalStateException("snappy-java round trip");
			emit("snappy", "java-snappy-" + base, s, pname, sv + "/SnappyOutputStream");
			emit("gzip", "java-gzip-" + base, gzip(plain, -1), pname, jv + "/GZIPOutputStream-level-default");
			emit("gzip", "java-gzip1-" + base, gzip(plain, 1), pname, jv + "/GZIPOutputStream-level-1");
		}

		/* An empty stream: what snappy-java writes, and that it reads it as empty. */
		byte[] empty = snappy(new byte[0]);
		if (unsnappy(empty).length != 0)
			throw new IllegalStateException("empty snappy stream");
		Files.write(outdir.resolve("empty.plain"), new byte[0]);
		emit("snappy", "java-snappy-empty", empty, "empty.plain", sv + "/SnappyOutputStream");

		/* Two streams back to back: snappy-java reads both. */
		byte[] a = Files.readAllBytes(Paths.get(args[1]));
		byte[] b = a;
		ByteArrayOutputStream cat = new ByteArrayOutputStream();
		cat.write(snappy(a));
		cat.write(snappy(b));
		ByteArrayOutputStream ab = new ByteArrayOutputStream();
		ab.write(a);
		ab.write(b);
		byte[] back = unsnappy(cat.toByteArray());
		if (!Arrays.equals(back, ab.toByteArray()))
			throw new IllegalStateException("snappy-java does not read concatenated streams");
		Files.write(outdir.resolve("concat.plain"), ab.toByteArray());
		emit("snappy", "java-snappy-concat", cat.toByteArray(), "concat.plain", sv + "/SnappyOutputStream-x2");

		/* What snappy-java does with an empty input and with a bare header. */
		try {
			System.out.println("unsnappy(empty input) = " + unsnappy(new byte[0]).length + " bytes");
		} catch (IOException e) {
			System.out.println("unsnappy(empty input) throws " + e);
		}

		try (Writer w = Files.newBufferedWriter(outdir.resolve("MANIFEST.java"))) {
			for (String line : manifest)
				w.write(line + "\n");
		}
	}
}
