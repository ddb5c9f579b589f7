// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqe - multi-queue NFQUEUE verdict engine.
 *
 * Runs in the foreground and logs to stderr; never forks itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfqe-config.h"
#include "engine.h"
#include "offload.h"
#include "log.h"
#include "offload.h"
#include "policy.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe [-c FILE] [-q A:B] [--seccomp yes|no] [--takeover]\n"
		"            [--check]\n"
		"       nfqe rules [--queues A:B] [--mode forward|raw]\n"
		"\n"
		"Multi-queue NFQUEUE verdict engine: one worker thread per queue\n"
		"of A:B, burst receive, batched verdicts.\n"
		"\n"
		"  -c, --config FILE   config file (default %s if it exists,\n"
		"                      else built-in defaults)\n"
		"  -q, --queues A:B    queue range, overrides [engine] queues\n"
		"      --seccomp yes|no  overrides [engine] seccomp\n"
		"      --takeover      take the queues over from the running nfqe\n"
		"                      (its control socket), without losing a\n"
		"                      packet; bind them if none runs\n"
		"      --check         validate the config and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this help\n"
		"\n"
		"Signals: TERM/INT stop (every held packet is verdicted),\n"
		"HUP reloads, USR1 prints per-queue stats. See nfqe(8).\n",
		NFQE_DEFAULT_CONF);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "queues", required_argument, NULL, 'q' },
		{ "check", no_argument, NULL, 'C' },
		{ "takeover", no_argument, NULL, 'T' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct nfqe_config cfg;
	const char *conf_path = NULL, *queues = NULL;
	bool check = false, takeover = false, stuck;
	int seccomp = -1;
	char err[4096], desc[128];
	struct policy_builder *b;
	struct offload_config oc;
	struct policy *policy;
	struct engine *e;
	int c, ret;

	if (argc > 1 && !strcmp(argv[1], "rules"))
		return rules_main(argc - 1, argv + 1);

	while ((c = getopt_long(argc, argv, "c:q:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'q':
			queues = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'T':
			takeover = true;
			break;
		case 'S':
			if (!strcmp(optarg, "yes") || !strcmp(optarg, "no")) {
				seccomp = !strcmp(optarg, "yes");
				break;
			}
			fprintf(stderr, "nfqe: --seccomp '%s' is not yes or "
				"no\n", optarg);
			return 2;
		case 'V':
			printf("nfqe %s\n", NFQE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nfqe: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	config_defaults(&cfg);
	if (!conf_path && access(NFQE_DEFAULT_CONF, F_OK) == 0)
		conf_path = NFQE_DEFAULT_CONF;
	b = policy_builder_new();
	if (!b) {
		fprintf(stderr, "nfqe: out of memory\n");
		return 1;
	}
	if (conf_path && policy_config_load(conf_path, &cfg, b, err,
					    sizeof(err)) < 0) {
		fprintf(stderr, "nfqe: config errors:\n%s\n", err);
		policy_builder_free(b);
		return 1;
	}
	if (queues && config_parse_queues(queues, &cfg.queue_first,
					  &cfg.queue_last) < 0) {
		fprintf(stderr, "nfqe: --queues '%s' is not a range A:B of at "
			"most %d queues in 0..65535\n", queues,
			NFQE_MAX_QUEUES);
		policy_builder_free(b);
		return 2;
	}
	/* kept by reloads, as -q is */
	cfg.seccomp_cli = seccomp;
	if (seccomp >= 0)
		cfg.seccomp = seccomp;
	if (config_check(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "nfqe: %s\n", err);
		policy_builder_free(b);
		return 1;
	}
	/* --check too: the rules compiled, the inspectors' plug-ins loaded */
	oc = *policy_builder_offload(b);
	policy = policy_build(b, err, sizeof(err));
	policy_builder_free(b);
	if (!policy) {
		fprintf(stderr, "nfqe: %s\n", err);
		return 1;
	}
	policy_describe(policy, desc, sizeof(desc));
	if (check) {
		printf("%s: OK (queues %u:%u), policy: %s\n",
		       conf_path ? conf_path : "built-in defaults",
		       cfg.queue_first, cfg.queue_last, desc);
		policy_free(policy);
		return 0;
	}

	log_set_level(cfg.log_level);
	log_info("nfqe %s starting, config %s, policy: %s", NFQE_VERSION,
		 conf_path ? conf_path : "built-in defaults", desc);
	e = engine_new(&cfg, policy, &oc, conf_path, queues, takeover);
	if (!e)
		return 1;
	ret = engine_run(e);
	stuck = engine_stuck(e);
	engine_free(e);
	log_info("stopped");
	if (stuck) {
		fflush(NULL);
		_exit(ret);
	}
	return ret;
}
