/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The payload nfqe-gen writes and nfqe-sink reads: the first 12 bytes of
 * every generated packet's L4 payload (UDP data, the data of a TCP SYN, the
 * data of an ICMP echo request), all in network byte order.
 *
 *   magic  u32  BENCH_PAYLOAD_MAGIC, tells generated packets from others
 *   flow   u32  flow index 0..flows-1: one (source address, source port)
 *   seq    u32  per-flow sequence number, 0 for the first packet of a flow
 *
 * The generator never gives two flows the same (address, port) tuple, so
 * the sink may key its per-flow state on the flow index. NAT rewrites
 * addresses, ports and echo ids but never the payload: the flow index is
 * what identifies a flow on the far side of a NAT router.
 */
#ifndef NFQE_BENCH_PAYLOAD_H
#define NFQE_BENCH_PAYLOAD_H

#include <stdint.h>

#define BENCH_PAYLOAD_MAGIC	0x6e667165u	/* "nfqe" */
#define BENCH_FLOWS_MAX		(1u << 20)

struct bench_payload {
	uint32_t magic;
	uint32_t flow;
	uint32_t seq;
} __attribute__((packed));

#endif
