/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `nfqe rules`: the iptables-restore file that sends a queue range to nfqe.
 *
 * forward: filter FORWARD, after conntrack (ct-state matches work; new
 *          flows race in conntrack, see nfqe(8)).
 * raw:     raw PREROUTING and OUTPUT, before conntrack (no race).
 * The rules jump to a chain of nfqe's own (NFQE) so they can be removed
 * with one flush. --queue-bypass lets traffic pass while nfqe is not bound;
 * --queue-cpu-fanout picks the queue by CPU, so each queue's packets arrive
 * on the CPU its worker is pinned to.
 *
 * With offload (--offload, or [offload] enable = yes in -c FILE), rules
 * before the NFQUEUE rule let offloaded flows skip the queue (offload.h):
 * forward mode accepts packets whose connmark has the offload bit, and
 * saves the bit from the mark (set by nfqe's NF_REPEAT verdict) into the
 * connmark; raw mode accepts packets whose tuple or reverse tuple is in
 * nfqe's two sets of the family (--ipv6 names the IPv6 ones, for
 * ip6tables-restore). The sets must exist when the rules are loaded:
 * nfqe creates them at start, so load raw-mode offload rules after it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nfqe-config.h"
#include "engine.h"
#include "offload.h"

static void rules_usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe rules [--queues A:B] [--mode forward|raw] "
		"[-c FILE] [--no-bypass] [--no-fanout|--fanout]\n"
		"                  [--offload] [--ipv6]\n"
		"Print an iptables-restore file that sends queues A:B to nfqe.\n"
		"Load it inside the router's namespace with\n"
		"  nfqe rules --queues 0:1 | iptables-restore --noflush\n"
		"(and the same with ip6tables-restore for IPv6).\n"
		"--queue-cpu-fanout is on in forward mode and off in raw mode\n"
		"(a flow must not straddle queues before conntrack).\n"
		"--offload (or [offload] enable = yes in FILE) adds the rules\n"
		"that let offloaded flows skip the queue: the connmark bit in\n"
		"forward mode, nfqe's sets in raw mode (load those after nfqe\n"
		"started: it creates the sets; --ipv6 names the IPv6 sets).\n");
}

static void print_target(unsigned first, unsigned last, bool bypass,
			 bool fanout)
{
	if (first == last)
		printf("-A NFQE -j NFQUEUE --queue-num %u%s\n", first,
		       bypass ? " --queue-bypass" : "");
	else
		printf("-A NFQE -j NFQUEUE --queue-balance %u:%u%s%s\n",
		       first, last, bypass ? " --queue-bypass" : "",
		       fanout ? " --queue-cpu-fanout" : "");
}

static void print_offload(const struct offload_config *oc,
			  enum nfqe_mode mode, int family)
{
	uint32_t mask = oc->mask ? oc->mask : oc->mark;
	char s[64], d[64];

	if (mode == MODE_FORWARD) {
		printf("-A NFQE -m connmark --mark 0x%x/0x%x -j ACCEPT\n"
		       "-A NFQE -m mark --mark 0x%x/0x%x -j CONNMARK "
		       "--save-mark --nfmask 0x%x --ctmask 0x%x\n"
		       "-A NFQE -m mark --mark 0x%x/0x%x -j ACCEPT\n",
		       oc->mark, mask, oc->mark, mask, mask, mask, oc->mark,
		       mask);
		return;
	}
	offload_set_name(oc, family, 's', s, sizeof(s));
	offload_set_name(oc, family, 'd', d, sizeof(d));
	printf("-A NFQE -m set --match-set %s src,src,dst "
	       "-m set --match-set %s src,dst,dst -j ACCEPT\n"
	       "-A NFQE -m set --match-set %s dst,dst,src "
	       "-m set --match-set %s dst,src,src -j ACCEPT\n", s, d, s, d);
}

/* [rules] and [inspector NAME] belong to the policy: not needed here */
static int ignore_key(void *ctx, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	return 0;
}

int rules_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "mode", required_argument, NULL, 'm' },
		{ "config", required_argument, NULL, 'c' },
		{ "no-bypass", no_argument, NULL, 'B' },
		{ "no-fanout", no_argument, NULL, 'F' },
		{ "fanout", no_argument, NULL, 'f' },
		{ "offload", no_argument, NULL, 'o' },
		{ "ipv6", no_argument, NULL, '6' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct nfqe_config cfg;
	struct offload_config oc;
	const struct config_section_parser parsers[] = {
		{ "offload", false, offload_config_key, &oc },
		{ "rules", false, ignore_key, NULL },
		{ "inspector", true, ignore_key, NULL },
	};
	const char *queues = NULL, *mode = NULL;
	bool bypass = true;
	int fanout = -1;	/* -1: the mode's default */
	int family = AF_INET;
	const char *tool, *table;
	char err[2048];
	int c;

	config_defaults(&cfg);
	offload_config_defaults(&oc);
	optind = 1;
	while ((c = getopt_long(argc, argv, "q:m:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			queues = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'c':
			if (config_load_ext(optarg, &cfg, parsers,
					    sizeof(parsers) / sizeof(parsers[0]),
					    err, sizeof(err)) < 0 ||
			    offload_config_check(&oc, err, sizeof(err)) < 0) {
				fprintf(stderr, "nfqe: %s\n", err);
				return 1;
			}
			break;
		case 'B':
			bypass = false;
			break;
		case 'F':
			fanout = 0;
			break;
		case 'f':
			fanout = 1;
			break;
		case 'o':
			oc.enable = true;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'h':
			rules_usage(stdout);
			return 0;
		default:
			rules_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nfqe rules: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (queues && config_parse_queues(queues, &cfg.queue_first,
					  &cfg.queue_last) < 0) {
		fprintf(stderr, "nfqe rules: --queues '%s' is not a range A:B "
			"of at most %d queues\n", queues, NFQE_MAX_QUEUES);
		return 2;
	}
	if (mode && !strcmp(mode, "forward"))
		cfg.mode = MODE_FORWARD;
	else if (mode && !strcmp(mode, "raw"))
		cfg.mode = MODE_RAW;
	else if (mode) {
		fprintf(stderr, "nfqe rules: --mode '%s' is not forward or "
			"raw\n", mode);
		return 2;
	}

	if (fanout < 0)
		fanout = cfg.mode == MODE_FORWARD;
	tool = family == AF_INET6 ? "ip6tables" : "iptables";
	table = cfg.mode == MODE_RAW ? "raw" : "filter";
	printf("# generated by nfqe %s: queues %u:%u, mode %s%s%s\n"
	       "# load: %s-restore --noflush%s\n"
	       "# remove: %s -t %s -D %s -j NFQE; %s -t %s -F NFQE;"
	       " %s -t %s -X NFQE\n",
	       NFQE_VERSION, cfg.queue_first, cfg.queue_last,
	       cfg.mode == MODE_RAW ? "raw" : "forward",
	       oc.enable ? ", offload" : "",
	       family == AF_INET6 ? ", IPv6" : "", tool,
	       oc.enable && cfg.mode == MODE_RAW ?
			" (after nfqe started: it creates the sets)" :
			family == AF_INET6 || (oc.enable &&
					       cfg.mode == MODE_RAW) ? "" :
			" (and ip6tables-restore)",
	       tool, table,
	       cfg.mode == MODE_RAW ? "PREROUTING (and OUTPUT)" : "FORWARD",
	       tool, table, tool, table);
	if (cfg.mode == MODE_RAW) {
		printf("*raw\n:NFQE - [0:0]\n"
		       "-A PREROUTING -j NFQE\n-A OUTPUT -j NFQE\n");
	} else {
		printf("*filter\n:NFQE - [0:0]\n-A FORWARD -j NFQE\n");
	}
	if (oc.enable)
		print_offload(&oc, cfg.mode, family);
	print_target(cfg.queue_first, cfg.queue_last, bypass, fanout);
	printf("COMMIT\n");
	return 0;
}
