// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqe-batchref: the reference batch reader. What a careful NFQUEUE reader
 * that knows the kernel interface does, and nothing more: one socket, one
 * queue, a 32 MiB SO_RCVBUFFORCE buffer, recvmmsg() bursts, and one
 * NFQNL_MSG_VERDICT_BATCH per burst that accepts every packet up to the
 * burst's highest id. No flow table, no rules, no parsing beyond the packet
 * id. nfqe does all of that and more per packet; this reader shows the
 * rate a single-threaded reader reaches when its only work is the system
 * calls, so that "nfqe vs batchref" measures what nfqe's own work costs.
 *
 * Packet ids of one queue grow by one per packet, and a batch verdict
 * applies to every queued packet whose id is not after the one given, so
 * one message per burst is enough. SIGTERM/SIGINT (or --timeout) end the
 * loop; the JSON counts go to stdout. Closing the socket unbinds the queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "tool.h"

#define BATCH_SECONDS_MAX	3600
#define BATCH_BURST_MAX		1024
#define BATCH_RCVBUF		(32 << 20)
/* a message holds at most copy_range bytes of packet plus the attributes */
#define BATCH_COPY_RANGE	0xffff
#define BATCH_MSG_SIZE		(BATCH_COPY_RANGE + 4096)

struct batchref {
	struct mnl_socket *nl;
	uint32_t portid;
	uint16_t queue;
	unsigned int burst_max;
	struct mmsghdr *msgs;
	struct iovec *iov;
	char *bufs;
	char verdict_buf[256];		/* one verdict message */
	uint64_t packets;
	uint64_t bytes;
	uint64_t bursts;
	uint64_t verdict_msgs;
	uint64_t send_errors;
	uint64_t enobufs;
	uint64_t kernel_errors;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* One NFQNL_MSG_VERDICT_BATCH: NF_ACCEPT for every id up to @id. */
static void verdict_batch_send(struct batchref *br, uint32_t id)
{
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(br->verdict_buf, NFQNL_MSG_VERDICT_BATCH, br->queue);
	nfq_nlmsg_verdict_put(nlh, id, NF_ACCEPT);
	if (mnl_socket_sendto(br->nl, nlh, nlh->nlmsg_len) < 0)
		br->send_errors++;
	else
		br->verdict_msgs++;
}

/*
 * Walk one received datagram. Returns 0, or -1 on an error message from
 * the kernel (a refused bind, for instance). *ret_id is the highest packet
 * id seen so far in the burst; *ret_have is set when there was one.
 */
static int datagram_walk(struct batchref *br, const void *buf, size_t len,
			 uint32_t *ret_id, bool *ret_have)
{
	const struct nlmsghdr *nlh = buf;
	int n = len;

	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		struct nlattr *attr[NFQA_MAX + 1] = { 0 };
		struct nfqnl_msg_packet_hdr *ph;
		uint32_t id;

		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

			if (err->error) {
				br->kernel_errors++;
				errno = -err->error;
				return -1;
			}
			continue;
		}
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
			continue;
		if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
			continue;
		ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
		id = ntohl(ph->packet_id);
		br->packets++;
		if (attr[NFQA_PAYLOAD])
			br->bytes += mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
		/* ids grow; compare as the kernel does (wrap-safe) */
		if (!*ret_have || (int32_t)(id - *ret_id) > 0)
			*ret_id = id;
		*ret_have = true;
	}
	return 0;
}

static int batchref_run(struct batchref *br)
{
	int fd = mnl_socket_get_fd(br->nl);

	while (!stop) {
		uint32_t id_max = 0;
		bool have = false;
		int n;

		n = recvmmsg(fd, br->msgs, br->burst_max, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				br->enobufs++;
				continue;
			}
			fprintf(stderr, "nfqe-batchref: recvmmsg: %m\n");
			return -1;
		}
		br->bursts++;
		for (int i = 0; i < n; i++) {
			if (datagram_walk(br, br->iov[i].iov_base, br->msgs[i].msg_len,
					  &id_max, &have) < 0) {
				fprintf(stderr, "nfqe-batchref: kernel: %m\n");
				if (have)
					verdict_batch_send(br, id_max);
				return -1;
			}
		}
		if (have)
			verdict_batch_send(br, id_max);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe-batchref [--queue N] [--fail-open] [--ready-file PATH]\n"
		"                     [--cpu N] [--burst N] [--timeout S]\n"
		"The reference batch reader: one socket, 32 MiB SO_RCVBUFFORCE,\n"
		"recvmmsg bursts, one NFQNL_MSG_VERDICT_BATCH (accept) per burst.\n"
		"SIGTERM prints {\"packets\":N,...} and exits.\n"
		"  --burst N    messages per recvmmsg (1..%d, default 64)\n"
		"  --timeout S  stop after S seconds (default and maximum %d)\n",
		BATCH_BURST_MAX, BATCH_SECONDS_MAX);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "fail-open", no_argument, NULL, 'o' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "burst", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *ready_file = NULL;
	unsigned long timeout = BATCH_SECONDS_MAX, v;
	unsigned int burst_max = 64, queue = 0;
	int c, cpu = -1, one = 1, rcvbuf = BATCH_RCVBUF, rc = 1;
	bool fail_open = false;
	struct batchref *br;
	char *end;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
		case 'C':
		case 'b':
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    (c == 'q' && v > 65535) || (c == 'C' && v >= CPU_SETSIZE) ||
			    (c == 'b' && (v < 1 || v > BATCH_BURST_MAX)) ||
			    (c == 't' && (v < 1 || v > BATCH_SECONDS_MAX))) {
				fprintf(stderr, "nfqe-batchref: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 'q')
				queue = v;
			else if (c == 'C')
				cpu = v;
			else if (c == 'b')
				burst_max = v;
			else
				timeout = v;
			break;
		case 'o':
			fail_open = true;
			break;
		case 'r':
			ready_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (cpu >= 0)
		tool_pin_cpu("nfqe-batchref", cpu);

	br = calloc(1, sizeof(*br));
	if (!br) {
		fprintf(stderr, "nfqe-batchref: out of memory\n");
		return 1;
	}
	br->queue = queue;
	br->burst_max = burst_max;
	br->msgs = calloc(burst_max, sizeof(*br->msgs));
	br->iov = calloc(burst_max, sizeof(*br->iov));
	br->bufs = malloc((size_t)burst_max * BATCH_MSG_SIZE);
	if (!br->msgs || !br->iov || !br->bufs) {
		fprintf(stderr, "nfqe-batchref: out of memory\n");
		goto err_free;
	}
	for (unsigned int i = 0; i < burst_max; i++) {
		br->iov[i].iov_base = br->bufs + (size_t)i * BATCH_MSG_SIZE;
		br->iov[i].iov_len = BATCH_MSG_SIZE;
		br->msgs[i].msg_hdr.msg_iov = &br->iov[i];
		br->msgs[i].msg_hdr.msg_iovlen = 1;
	}

	br->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!br->nl) {
		fprintf(stderr, "nfqe-batchref: netlink socket: %m\n");
		goto err_free;
	}
	if (mnl_socket_bind(br->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "nfqe-batchref: netlink bind: %m\n");
		goto err_close;
	}
	br->portid = mnl_socket_get_portid(br->nl);
	if (setsockopt(mnl_socket_get_fd(br->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		       &rcvbuf, sizeof(rcvbuf)) < 0)
		fprintf(stderr, "nfqe-batchref: SO_RCVBUFFORCE %d: %m\n", rcvbuf);
	/* a full socket buffer is counted by the kernel (user_dropped) */
	mnl_socket_setsockopt(br->nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	if (tool_queue_bind(br->nl, br->queue, BATCH_COPY_RANGE, fail_open) < 0) {
		fprintf(stderr, "nfqe-batchref: bind queue %u: %m\n", br->queue);
		goto err_close;
	}

	tool_stop_signals(on_signal, timeout);
	if (ready_file && tool_ready_file(ready_file) < 0) {
		fprintf(stderr, "nfqe-batchref: cannot write %s\n", ready_file);
		goto err_close;
	}

	rc = batchref_run(br) < 0 ? 1 : 0;
	printf("{\"packets\":%llu,\"bytes\":%llu,\"bursts\":%llu,\"mean_burst\":%.3f,"
	       "\"verdict_msgs\":%llu,\"send_errors\":%llu,\"enobufs\":%llu,"
	       "\"kernel_errors\":%llu}\n",
	       (unsigned long long)br->packets, (unsigned long long)br->bytes,
	       (unsigned long long)br->bursts,
	       br->bursts ? (double)br->packets / br->bursts : 0.0,
	       (unsigned long long)br->verdict_msgs,
	       (unsigned long long)br->send_errors, (unsigned long long)br->enobufs,
	       (unsigned long long)br->kernel_errors);
err_close:
	mnl_socket_close(br->nl);
err_free:
	free(br->bufs);
	free(br->iov);
	free(br->msgs);
	free(br);
	return rc;
}
