/*
 * The network layer over real loopback sockets: frames answered strictly in
 * order even when answers come from another thread out of order in time;
 * oversized and negative frames close only the offending connection; a frame
 * answered with nothing unmutes; file-backed answers arrive byte-exact; frames
 * of every size, sent back to back or a byte at a time, arrive whole (the
 * connection reads into its own buffer, grown with the frame, and asks the
 * kernel to wake it only when enough has arrived); idle connections close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "samsa/net.h"
#include "samsa/util/buf.h"
#include "samsa/util/endian.h"

/* Handler behaviour, chosen per frame by its first byte. */
enum { ECHO_NOW = 'e', ECHO_LATER = 'l', NO_ANSWER = 'n', FILE_ANSWER = 'f', CLOSE = 'c' };

static int test_file_fd = -1;

struct later {
	struct conn *c;
	struct wbuf w;
	int delay_ms;
};

static void *answer_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, (long)l->delay_ms * 1000000L };
	nanosleep(&ts, NULL);
	net_respond(l->c, &l->w);
	wbuf_free(&l->w);
	free(l);
	return NULL;
}

static void handler(struct conn *c, const struct conn_info *info, const uint8_t *frame, size_t len, void *arg)
{
	(void)info;
	(void)arg;
	struct wbuf w;
	wbuf_init(&w);
	wbuf_put(&w, frame, len);
	char kind = len ? (char)frame[0] : ECHO_NOW;
	if (kind == ECHO_LATER) {
		struct later *l = calloc(1, sizeof *l);
		l->c = c;
		l->w = w;
		/* Earlier frames wait longer, so a broken ordering would show. */
		l->delay_ms = len > 1 ? 30 - (frame[1] % 30) : 5;
		pthread_t t;
		pthread_create(&t, NULL, answer_later, l);
		pthread_detach(t);
		return;
	}
	if (kind == NO_ANSWER)
		net_respond_none(c);
	else if (kind == CLOSE)
		net_close(c);
	else if (kind == FILE_ANSWER)
		net_respond_with_file(c, &w, test_file_fd, 3, 10);
	else
		net_respond(c, &w);
	wbuf_free(&w);
}

/* socket.request.max.bytes here: big enough for frames that outgrow the connection's
 * first buffer several times over. */
#define MAX_REQUEST (8 * 1024 * 1024)

static struct net_server *server;
static struct listener_spec spec;

static int setup(void **state)
{
	(void)state;
	spec.name = "PLAINTEXT";
	spec.host = "127.0.0.1";
	spec.port = 0;
	spec.protocol = SECPROTO_PLAINTEXT;
	struct net_config cfg = {
		.num_network_threads = 3,
		.socket_request_max_bytes = MAX_REQUEST,
		.socket_send_buffer_bytes = -1,
		.socket_receive_buffer_bytes = -1,
		.connections_max_idle_ms = 600000,
		.on_request = handler,
	};
	char path[] = "/tmp/samsa-test-net-XXXXXX";
	test_file_fd = mkstemp(path);
	unlink(path);
	assert_int_equal(write(test_file_fd, "0123456789abcdefghij", 20), 20);
	server = net_server_start(&cfg, &spec, 1);
	assert_non_null(server);
	assert_int_not_equal(spec.port, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	net_server_stop(server);
	close(test_file_fd);
	return 0;
}

static int dial_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static int dial(void) { return dial_port(spec.port); }

static void send_frame(int fd, const void *p, uint32_t n)
{
	uint8_t hdr[4];
	be32_store(hdr, n);
	assert_int_equal(send(fd, hdr, 4, 0), 4);
	if (n)
		assert_int_equal(send(fd, p, n, 0), (ssize_t)n);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads one response frame into buf; returns its length or -1 on EOF. */
static int read_frame(int fd, uint8_t *buf, size_t cap)
{
	uint8_t hdr[4];
	if (read_full(fd, hdr, 4))
		return -1;
	uint32_t n = be32_load(hdr);
	assert_true(n <= cap);
	if (read_full(fd, buf, n))
		return -1;
	return (int)n;
}

static void test_pipelined_frames_answered_in_order(void **state)
{
	(void)state;
	int fd = dial();
	/* 30 frames at once, each answered from another thread after a delay that shrinks. */
	for (int i = 0; i < 30; i++) {
		uint8_t f[2] = { ECHO_LATER, (uint8_t)i };
		send_frame(fd, f, 2);
	}
	for (int i = 0; i < 30; i++) {
		uint8_t buf[16];
		assert_int_equal(read_frame(fd, buf, sizeof buf), 2);
		assert_int_equal(buf[1], i);
	}
	close(fd);
}

static void test_oversized_frame_closes_only_that_connection(void **state)
{
	(void)state;
	int good = dial();
	int bad = dial();
	uint8_t big[4] = { 0, 0x80, 0, 0x01 }; /* 8 MiB + 1 > socket.request.max.bytes */
	assert_int_equal(send(bad, big, 4, 0), 4);
	uint8_t buf[16];
	assert_int_equal(recv(bad, buf, sizeof buf, 0), 0); /* closed */
	uint8_t neg[4] = { 0xff, 0xff, 0xff, 0xfe };
	int bad2 = dial();
	assert_int_equal(send(bad2, neg, 4, 0), 4);
	assert_int_equal(recv(bad2, buf, sizeof buf, 0), 0);
	uint8_t f[3] = { ECHO_NOW, 'o', 'k' };
	send_frame(good, f, 3);
	assert_int_equal(read_frame(good, buf, sizeof buf), 3);
	assert_memory_equal(buf, f, 3);
	close(good);
	close(bad);
	close(bad2);
}

static void test_no_answer_unmutes(void **state)
{
	(void)state;
	int fd = dial();
	uint8_t quiet[1] = { NO_ANSWER };
	uint8_t f[2] = { ECHO_NOW, 7 };
	send_frame(fd, quiet, 1);
	send_frame(fd, f, 2);
	uint8_t buf[16];
	assert_int_equal(read_frame(fd, buf, sizeof buf), 2);
	assert_int_equal(buf[1], 7);
	close(fd);
}

static void test_file_answer(void **state)
{
	(void)state;
	int fd = dial();
	uint8_t f[2] = { FILE_ANSWER, 'H' };
	send_frame(fd, f, 2);
	uint8_t buf[64];
	assert_int_equal(read_frame(fd, buf, sizeof buf), 12);
	assert_memory_equal(buf, "fH3456789abc", 12);
	close(fd);
}

static void test_close_and_half_frames(void **state)
{
	(void)state;
	int fd = dial();
	uint8_t c[1] = { CLOSE };
	send_frame(fd, c, 1);
	uint8_t buf[16];
	assert_int_equal(recv(fd, buf, sizeof buf, 0), 0);
	close(fd);
	/* A peer that leaves in the middle of a frame, or while its answer is pending. */
	fd = dial();
	uint8_t half[6] = { 0, 0, 0, 100, 'e', 'x' };
	assert_int_equal(send(fd, half, sizeof half, 0), 6);
	close(fd);
	fd = dial();
	uint8_t later[2] = { ECHO_LATER, 0 };
	send_frame(fd, later, 2);
	close(fd);
	struct timespec ts = { 0, 60 * 1000000L };
	nanosleep(&ts, NULL); /* the late answer lands on a dead connection */
}

static void test_many_connections(void **state)
{
	(void)state;
	enum { N = 200 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = dial();
	for (int i = 0; i < N; i++) {
		uint8_t f[3] = { ECHO_NOW, (uint8_t)i, (uint8_t)(i >> 8) };
		send_frame(fds[i], f, 3);
	}
	for (int i = 0; i < N; i++) {
		uint8_t buf[8];
		assert_int_equal(read_frame(fds[i], buf, sizeof buf), 3);
		assert_int_equal(buf[1] | (buf[2] << 8), i);
		close(fds[i]);
	}
}

/* Frame i of the sizes test: its size and its bytes, a pattern that shows any
 * misplaced or missing byte. */
static const uint32_t frame_sizes[] = { 1, 2, 3, 4, 5, 100, 4095, 4096, 16383, 16384, 16385, 65536, 70001,
					1024 * 1024 + 3, 3 * 1024 * 1024 + 7, 1, 0, 7 * 1024 * 1024 + 11, 2 };
#define N_SIZES (sizeof frame_sizes / sizeof frame_sizes[0])

static void fill_pattern(uint8_t *p, uint32_t n, unsigned seed)
{
	for (uint32_t k = 0; k < n; k++)
		p[k] = (uint8_t)(k * 31u + seed * 7u + (k >> 9));
	if (n)
		p[0] = ECHO_NOW;
}

struct sender {
	int fd;
};

/* Sends every frame back to back while the test thread reads the echoes (one thread
 * doing both would deadlock once both directions' socket buffers are full). */
static void *send_all_sizes(void *arg)
{
	struct sender *sd = arg;
	for (size_t i = 0; i < N_SIZES; i++) {
		uint32_t n = frame_sizes[i];
		uint8_t *buf = malloc(4 + (size_t)n);
		be32_store(buf, n);
		fill_pattern(buf + 4, n, (unsigned)i);
		size_t off = 0;
		while (off < 4 + (size_t)n) {
			ssize_t w = send(sd->fd, buf + off, 4 + (size_t)n - off, 0);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(buf);
	}
	return NULL;
}

static void test_frames_of_every_size(void **state)
{
	(void)state;
	int fd = dial();
	struct timeval tv = { 20, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sender sd = { fd };
	pthread_t t;
	pthread_create(&t, NULL, send_all_sizes, &sd);
	uint8_t *got = malloc(MAX_REQUEST), *want = malloc(MAX_REQUEST);
	for (size_t i = 0; i < N_SIZES; i++) {
		uint32_t n = frame_sizes[i];
		assert_int_equal(read_frame(fd, got, MAX_REQUEST), (int)n);
		fill_pattern(want, n, (unsigned)i);
		if (n)
			assert_memory_equal(got, want, n);
	}
	pthread_join(t, NULL);
	free(got);
	free(want);
	close(fd);
}

static void test_frames_a_byte_at_a_time(void **state)
{
	(void)state;
	int fd = dial();
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* Two frames, every byte its own segment: the broker must never wait for bytes
	 * beyond the frame it is reading. */
	uint8_t stream[4 + 300 + 4 + 3];
	stream[0] = 0;
	stream[1] = 0;
	stream[2] = 1;
	stream[3] = 44; /* 300 */
	fill_pattern(stream + 4, 300, 5);
	memcpy(stream + 304, "\0\0\0\3", 4);
	stream[308] = ECHO_NOW;
	stream[309] = 'h';
	stream[310] = 'i';
	for (size_t k = 0; k < sizeof stream; k++) {
		assert_int_equal(send(fd, stream + k, 1, 0), 1);
		if (k % 50 == 0) {
			struct timespec ts = { 0, 2 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	uint8_t buf[400];
	assert_int_equal(read_frame(fd, buf, sizeof buf), 300);
	assert_memory_equal(buf, stream + 4, 300);
	assert_int_equal(read_frame(fd, buf, sizeof buf), 3);
	assert_memory_equal(buf, stream + 308, 3);
	close(fd);
}

static void test_idle_connection_closes(void **state)
{
	(void)state;
	struct listener_spec s2 = { .name = "PLAINTEXT", .host = "127.0.0.1", .port = 0, .protocol = SECPROTO_PLAINTEXT };
	struct net_config cfg = {
		.num_network_threads = 1,
		.socket_request_max_bytes = 1024,
		.socket_send_buffer_bytes = -1,
		.socket_receive_buffer_bytes = -1,
		.connections_max_idle_ms = 300,
		.on_request = handler,
	};
	struct net_server *idle = net_server_start(&cfg, &s2, 1);
	assert_non_null(idle);
	int fd = dial_port(s2.port);
	/* Busy for longer than the idle time: every request restarts the clock. */
	for (int i = 0; i < 6; i++) {
		uint8_t f[2] = { ECHO_NOW, (uint8_t)i }, buf[8];
		send_frame(fd, f, 2);
		assert_int_equal(read_frame(fd, buf, sizeof buf), 2);
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	/* Then quiet: closed by the broker (EOF), well before our 5 s receive timeout. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint8_t buf[8];
	assert_int_equal(recv(fd, buf, sizeof buf, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4);
	close(fd);
	net_server_stop(idle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_frames_answered_in_order),
		cmocka_unit_test(test_oversized_frame_closes_only_that_connection),
		cmocka_unit_test(test_no_answer_unmutes),
		cmocka_unit_test(test_file_answer),
		cmocka_unit_test(test_close_and_half_frames),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_frames_of_every_size),
		cmocka_unit_test(test_frames_a_byte_at_a_time),
		cmocka_unit_test(test_idle_connection_closes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
