// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the config parser: config_load() over fresh
 * defaults, then config_check(), as nfqe --check runs them.
 *
 * Input: the file's bytes. They go to one memfd per process (rewritten for
 * every input), read through its /proc/self/fd path.
 *
 * Beyond "no crash" it checks what config.h promises: -1 if and only if
 * there is an error message; every message line is "PATH:LINE: text" with
 * LINE between 1 and the number of lines in the input; a short error
 * buffer gives the same verdict and a cut, terminated message. And that
 * line numbers are right, not only in range: the input is loaded a second
 * time with an unknown section and key appended, whose error must name
 * the line where the key really is.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) abort(); } while (0)

/* One message per line at most, each well below this: an error buffer
 * of (lines + 3) * ERR_PER_LINE never cuts a message. */
#define ERR_PER_LINE	1024
#define MAX_INPUT	(64u << 10)

/* Appended after the input (and a '\n' if its last line has none). */
static const char sentinel[] = "[fuzz_sentinel]\nsentinel = 1\n";

static int conf_fd = -1;
static char conf_path[64];

static void conf_write(const uint8_t *data, size_t size, bool with_sentinel)
{
	check(ftruncate(conf_fd, 0) == 0);
	check(pwrite(conf_fd, data, size, 0) == (ssize_t)size);
	if (!with_sentinel)
		return;
	if (size && data[size - 1] != '\n')
		check(pwrite(conf_fd, "\n", 1, size++) == 1);
	check(pwrite(conf_fd, sentinel, sizeof(sentinel) - 1, size) ==
	      (ssize_t)sizeof(sentinel) - 1);
}

/* Lines as fgets() counts them: a last line without '\n' counts too. */
static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	if (size && data[size - 1] != '\n')
		n++;
	return n;
}

/* Every line of @err is "PATH:LINE: ..." with 1 <= LINE <= @lines; returns
 * the line number of the last one. */
static unsigned check_messages(const char *err, unsigned lines)
{
	size_t plen = strlen(conf_path);
	unsigned long line = 0;
	const char *p = err;

	check(*p);
	for (;;) {
		char *end;

		check(!strncmp(p, conf_path, plen) && p[plen] == ':');
		p += plen + 1;
		check(*p >= '1' && *p <= '9');
		line = strtoul(p, &end, 10);
		check(line >= 1 && line <= lines);
		check(end[0] == ':' && end[1] == ' ');
		p = strchr(end, '\n');
		if (!p)
			break;
		p++;
	}
	return (unsigned)line;
}

/* config_load() over fresh defaults, then config_check() as nfqe --check
 * runs it. Returns what config_load() returned. */
static int load(char *err, size_t errlen)
{
	struct nfqe_config cfg;
	char cerr[256];
	int ret, cret;

	config_defaults(&cfg);
	memset(err, 0x5a, errlen);
	ret = config_load(conf_path, &cfg, err, errlen);
	check(ret == 0 || ret == -1);
	check(memchr(err, '\0', errlen));
	check((ret == -1) == (err[0] != '\0'));
	if (ret == 0) {
		cerr[0] = '\0';
		cret = config_check(&cfg, cerr, sizeof(cerr));
		check(cret == 0 || cret == -1);
		check((cret == -1) == (cerr[0] != '\0'));
	}
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	conf_fd = memfd_create("nfqe-fuzz.conf", MFD_CLOEXEC);
	check(conf_fd >= 0);
	snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err_small[48], *err_big;
	size_t err_len;
	unsigned lines;
	const char *last;
	int ret;

	if (size > MAX_INPUT)
		return 0;
	lines = count_lines(data, size);
	err_len = (lines + 3) * (size_t)ERR_PER_LINE;
	err_big = malloc(err_len);
	check(err_big);

	conf_write(data, size, false);
	ret = load(err_big, err_len);
	if (ret)
		check_messages(err_big, lines);

	/* The same verdict with a buffer that cuts the messages. */
	check(load(err_small, sizeof(err_small)) == ret);

	/* The appended key is in an unknown section: always an error, the
	 * last one, on line lines + 2. */
	conf_write(data, size, true);
	check(load(err_big, err_len) == -1);
	last = strrchr(err_big, '\n');
	last = last ? last + 1 : err_big;
	check(check_messages(last, lines + 2) == lines + 2);
	check(strstr(last, ": unknown section [fuzz_sentinel] (key sentinel)"));
	free(err_big);
	return 0;
}
