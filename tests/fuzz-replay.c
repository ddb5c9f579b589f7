// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz-replay - run a libFuzzer harness over saved inputs without
 * libFuzzer, so every corpus is a regression test in the normal build.
 *
 * Usage: fuzz-replay PATH...  (each PATH a corpus directory or one file)
 *
 * Link it with one harness's LLVMFuzzerTestOneInput (and, if the harness
 * has one, LLVMFuzzerInitialize). Each input is copied into a buffer of
 * exactly its size, as libFuzzer does, so a sanitizer build catches
 * overreads. A harness reports a finding by crashing or aborting; that
 * fails the test. An empty corpus fails too: it means a broken path.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path, unsigned *count)
{
	uint8_t *buf;
	long size;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		fclose(f);
		return -1;
	}
	/* malloc(0) may return NULL; libFuzzer never passes NULL. */
	buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, f) != (size_t)size) {
		fprintf(stderr, "fuzz-replay: %s: read failed\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* Named before it runs: a crash leaves the culprit on stderr. */
	fprintf(stderr, "fuzz-replay: %s (%ld bytes)\n", path, size);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	(*count)++;
	return 0;
}

static int replay_path(const char *path, unsigned *count)
{
	struct dirent **names;
	char file[4096];
	struct stat st;
	int i, n, err = 0;

	if (stat(path, &st)) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);

	/* Sorted, so a run is reproducible. */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && !stat(file, &st) &&
		    S_ISREG(st.st_mode) && replay_file(file, count))
			err = -1;
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int i, err = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count))
			err = 1;
	if (!count) {
		fprintf(stderr, "fuzz-replay: no inputs found\n");
		return 1;
	}
	printf("fuzz-replay: %u inputs ran clean\n", count);
	return err;
}
