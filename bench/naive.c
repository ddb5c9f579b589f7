// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqe-naive: the classic NFQUEUE reader, the baseline nfqe is measured
 * against. It is libnetfilter_queue's nf-queue.c example on purpose: one
 * libmnl socket with the default receive buffer, one queue, one
 * mnl_socket_recvfrom per packet and one NFQNL_MSG_VERDICT sendto per
 * packet, every packet accepted. Nothing here is tuned, and nothing should
 * be: it shows what a straightforward reader costs.
 *
 * SIGTERM/SIGINT (or --timeout) end the loop; the JSON counts go to stdout.
 * Closing the socket unbinds the queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "tool.h"

#define NAIVE_SECONDS_MAX	3600

struct naive {
	struct mnl_socket *nl;
	uint32_t portid;
	uint16_t queue;
	uint64_t packets;
	uint64_t bytes;
	uint64_t send_errors;
	uint64_t enobufs;
	char *verdict_buf;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int verdict_send(struct naive *nv, uint32_t id)
{
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(nv->verdict_buf, NFQNL_MSG_VERDICT, nv->queue);
	nfq_nlmsg_verdict_put(nlh, id, NF_ACCEPT);
	if (mnl_socket_sendto(nv->nl, nlh, nlh->nlmsg_len) < 0) {
		nv->send_errors++;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct naive *nv = data;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	nv->packets++;
	if (attr[NFQA_PAYLOAD])
		nv->bytes += mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	return verdict_send(nv, ntohl(ph->packet_id));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe-naive [--queue N] [--fail-open] [--ready-file PATH]\n"
		"                  [--cpu N] [--timeout S]\n"
		"The naive NFQUEUE reader: one recv and one verdict sendto per packet,\n"
		"every packet accepted. SIGTERM prints {\"packets\":N,...} and exits.\n"
		"  --timeout S  stop after S seconds (default and maximum %d)\n",
		NAIVE_SECONDS_MAX);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "fail-open", no_argument, NULL, 'o' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct naive nv = { 0 };
	const char *ready_file = NULL;
	bool fail_open = false;
	unsigned long timeout = NAIVE_SECONDS_MAX, v;
	size_t buf_size = 0xffff + MNL_SOCKET_BUFFER_SIZE / 2;
	char *buf, *end;
	int c, cpu = -1, one = 1, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
		case 'C':
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    (c == 'q' && v > 65535) || (c == 'C' && v >= CPU_SETSIZE) ||
			    (c == 't' && (v < 1 || v > NAIVE_SECONDS_MAX))) {
				fprintf(stderr, "nfqe-naive: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 'q')
				nv.queue = v;
			else if (c == 'C')
				cpu = v;
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
		tool_pin_cpu("nfqe-naive", cpu);

	buf = malloc(buf_size);
	nv.verdict_buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!buf || !nv.verdict_buf) {
		fprintf(stderr, "nfqe-naive: out of memory\n");
		return 1;
	}
	nv.nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nv.nl) {
		fprintf(stderr, "nfqe-naive: netlink socket: %m\n");
		return 1;
	}
	if (mnl_socket_bind(nv.nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "nfqe-naive: netlink bind: %m\n");
		rc = 1;
		goto out_close;
	}
	nv.portid = mnl_socket_get_portid(nv.nl);
	if (tool_queue_bind(nv.nl, nv.queue, 0xffff, fail_open) < 0) {
		fprintf(stderr, "nfqe-naive: bind queue %u: %m\n", nv.queue);
		rc = 1;
		goto out_close;
	}
	/* as in nf-queue.c: a full socket buffer must not end the reader */
	mnl_socket_setsockopt(nv.nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));

	tool_stop_signals(on_signal, timeout);
	if (ready_file && tool_ready_file(ready_file) < 0) {
		fprintf(stderr, "nfqe-naive: cannot write %s\n", ready_file);
		rc = 1;
		goto out_close;
	}

	while (!stop) {
		ssize_t n = mnl_socket_recvfrom(nv.nl, buf, buf_size);

		if (n < 0) {
			if (errno == ENOBUFS) {
				nv.enobufs++;
				continue;
			}
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nfqe-naive: recv: %m\n");
			rc = 1;
			break;
		}
		/* a bad BIND (queue taken) arrives here as an error message */
		if (mnl_cb_run(buf, n, 0, nv.portid, packet_cb, &nv) < 0 && errno != EINTR &&
		    !nv.send_errors) {
			fprintf(stderr, "nfqe-naive: %m\n");
			rc = 1;
			break;
		}
	}
	printf("{\"packets\":%llu,\"bytes\":%llu,\"send_errors\":%llu,\"enobufs\":%llu}\n",
	       (unsigned long long)nv.packets, (unsigned long long)nv.bytes,
	       (unsigned long long)nv.send_errors, (unsigned long long)nv.enobufs);
out_close:
	mnl_socket_close(nv.nl);
	free(buf);
	free(nv.verdict_buf);
	return rc;
}
