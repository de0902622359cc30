/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a libFuzzer target without libFuzzer: every file named on the command line (folders are walked),
 * then KYSO_FUZZ_RUNS (default 2000) inputs mutated from them with a fixed seed, so a run is repeatable and
 * bounded. Used when the build has no libFuzzer (gcc), so fuzzers still run in every test suite. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char **inputs;
static size_t *sizes;
static size_t n_inputs;

static int add_input(const char *path) {
        char *buf;
        size_t size;
        int r = read_full_file(path, 4 * 1024 * 1024, &buf, &size);
        if (r < 0) {
                fprintf(stderr, "fuzz: cannot read %s: %s\n", path, strerror(-r));
                return r;
        }
        inputs = realloc(inputs, sizeof(char *) * (n_inputs + 1));
        sizes = realloc(sizes, sizeof(size_t) * (n_inputs + 1));
        if (!inputs || !sizes)
                return -ENOMEM;
        inputs[n_inputs] = buf;
        sizes[n_inputs++] = size;
        return 0;
}

static int add_path(const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return add_input(path);
        DIR *d = opendir(path);
        if (!d)
                return negative_errno();
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)) && r >= 0) {
                if (de->d_name[0] == '.')
                        continue;
                char *p;
                if (asprintf(&p, "%s/%s", path, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = add_path(p);
                free(p);
        }
        closedir(d);
        return r;
}

static uint64_t rng_state = 0x6b79736f; /* fixed: runs are repeatable */
static uint64_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

int main(int argc, char **argv) {
        unsigned long runs = 2000;
        const char *e = getenv("KYSO_FUZZ_RUNS");
        if (e)
                runs = strtoul(e, NULL, 10);

        for (int i = 1; i < argc; i++)
                if (add_path(argv[i]) < 0)
                        return 1;

        for (size_t i = 0; i < n_inputs; i++)
                LLVMFuzzerTestOneInput((const uint8_t *) inputs[i], sizes[i]);

        for (unsigned long run = 0; run < runs; run++) {
                size_t base = n_inputs > 0 ? rng() % n_inputs : 0;
                size_t size = n_inputs > 0 ? sizes[base] : 0;
                size_t grow = rng() % 64;
                uint8_t *buf = malloc(size + grow + 1);
                if (!buf)
                        return 1;
                if (size > 0)
                        memcpy(buf, inputs[base], size);
                /* A few mutations: flip bytes, insert runs of interesting bytes, truncate, splice. */
                unsigned n_mut = 1 + rng() % 8;
                for (unsigned m = 0; m < n_mut; m++) {
                        switch (rng() % 5) {
                        case 0:
                                if (size > 0)
                                        buf[rng() % size] ^= (uint8_t) (1u << (rng() % 8));
                                break;
                        case 1:
                                if (size > 0)
                                        buf[rng() % size] =
                                                (uint8_t) "\0\n\"{}[]:,\\\xff\x7f 0-"[rng() % 15];
                                break;
                        case 2:
                                if (size > 0)
                                        size = rng() % size;
                                break;
                        case 3:
                                if (grow > 0) {
                                        size_t pos = size > 0 ? rng() % size : 0;
                                        memmove(buf + pos + 1, buf + pos, size - pos);
                                        buf[pos] = (uint8_t) rng();
                                        size++;
                                        grow--;
                                }
                                break;
                        case 4:
                                if (n_inputs > 1 && size > 0) {
                                        size_t other = rng() % n_inputs;
                                        size_t off = rng() % size;
                                        size_t n = MIN(size - off, sizes[other]);
                                        memcpy(buf + off, inputs[other], n);
                                }
                                break;
                        }
                }
                LLVMFuzzerTestOneInput(buf, size);
                free(buf);
        }
        printf("fuzz: %zu seed inputs and %lu mutated inputs passed\n", n_inputs, runs);
        for (size_t i = 0; i < n_inputs; i++)
                free(inputs[i]);
        free(inputs);
        free(sizes);
        return 0;
}
