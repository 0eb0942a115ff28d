/*
 * fuzz/replay.c - runs every file of the given folders (or files) through a
 * fuzz target's LLVMFuzzerTestOneInput, so a corpus replays as a ctest
 * without libFuzzer.  Prints "N passed, 0 failed"; a crash fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;
	if (!fp) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n)) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int n_ok = 0, n_bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "replay: no such corpus %s\n", argv[i]);
			n_bad++;
			continue;
		}
		if (S_ISDIR(sb.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			while (d && (e = readdir(d))) {
				char path[4096];
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				if (run_file(path) == 0)
					n_ok++;
				else
					n_bad++;
			}
			if (d)
				closedir(d);
		} else if (run_file(argv[i]) == 0) {
			n_ok++;
		} else {
			n_bad++;
		}
	}
	if (n_ok == 0 && n_bad == 0) {
		fprintf(stderr, "replay: empty corpus\n");
		return 1;
	}
	printf("%d passed, %d failed\n", n_ok, n_bad);
	return n_bad ? 1 : 0;
}
