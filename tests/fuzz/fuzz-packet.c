// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for pkt_parse().
 *
 * Input: a mode byte, a 24-bit big-endian value v, then the packet. The
 * mode picks @wire_len: 0: 0 (the whole packet); 1: len + v (copy range
 * cut it); 2: 65536 + v (a big GSO packet); 3: v (anything, even < len).
 *
 * Beyond "no crash, no overread" (ASan: libFuzzer's buffer is exactly
 * the input's size) it checks what packet.h promises: @ret untouched on
 * error, every offset and length inside the bytes at hand, flags that
 * agree with each other, and the same answer twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info info, again, canary;
	size_t len, wire_len;
	uint32_t v;
	int err;

	if (size < 4)
		return 0;
	v = (uint32_t)data[1] << 16 | data[2] << 8 | data[3];
	data += 4;
	len = size - 4;
	switch (data[-4] & 3) {
	case 0:
		wire_len = 0;
		break;
	case 1:
		wire_len = len + v;
		break;
	case 2:
		wire_len = 65536 + v;
		break;
	default:
		wire_len = v;
		break;
	}

	memset(&info, 0xa5, sizeof(info));
	canary = info;
	err = pkt_parse(len ? data : NULL, len, wire_len, &info);
	check(pkt_error_name(err) != NULL);
	if (err) {
		check(err > PKT_OK && err < PKT_ERR_MAX);
		check(!memcmp(&info, &canary, sizeof(info)));
		return 0;
	}

	check(info.family == (data[0] >> 4 == 4 ? AF_INET : AF_INET6));
	check(info.len <= len && info.len <= info.ip_len);
	check(info.ip_len <= (wire_len > len ? wire_len : len));
	check(!(info.flags & PKT_F_TRUNCATED) == (info.len == info.ip_len));
	check(info.l4off <= info.len);
	check(info.payload_off >= info.l4off);
	check((uint64_t)info.payload_off + info.payload_len <= info.len);
	if (info.flags & PKT_F_FIRST_FRAG)
		check(info.flags & PKT_F_FRAGMENT);
	if ((info.flags & PKT_F_FRAGMENT) && !(info.flags & PKT_F_FIRST_FRAG))
		check(!(info.flags & PKT_F_L4));
	if (info.flags & PKT_F_L4)
		check(info.payload_off >= info.l4off + 8u);
	else
		check(!info.sport && !info.dport && !info.tcp_flags &&
		      info.payload_off == info.l4off);
	if (info.flags & PKT_F_GSO)
		check(info.ip_len > 65535);

	memset(&again, 0, sizeof(again));
	check(pkt_parse(data, len, wire_len, &again) == PKT_OK);
	check(!memcmp(&info, &again, sizeof(info)));
	return 0;
}
