//  fuzz_replay - the main() of every fuzz_NAME_replay program: it runs
//  corpus files through the harness's LLVMFuzzerTestOneInput, so that each
//  committed corpus is a plain ctest (fuzz.NAME.replay) even without
//  libFuzzer. megle_fuzz_target in tests/CMakeLists.txt links it with the
//  harness for the replay program only; libFuzzer brings its own main().
//
//  Each argument is a file or a directory; a directory's regular files are
//  replayed, not its subdirectories, and not names starting with '.'.
//  Every input is handed over in a malloc'd buffer of exactly its size, so
//  that a read past the end is an ASan error. Exits 1 if a path cannot be
//  read or if nothing was replayed.

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Reads the whole file and replays it. Returns 0, or -1 if unreadable.
//  name is the program's, for messages.
static int
s_replay_file (const char *name, const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "%s: cannot open %s\n", name, path);
        return -1;
    }
    size_t cap = 4096, size = 0;
    uint8_t *buf = malloc (cap);
    while (buf) {
        size += fread (buf + size, 1, cap - size, file);
        if (size < cap)
            break;
        uint8_t *bigger = realloc (buf, cap * 2);
        if (!bigger) {
            free (buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = !buf || ferror (file);
    fclose (file);
    if (failed) {
        fprintf (stderr, "%s: cannot read %s\n", name, path);
        free (buf);
        return -1;
    }
    //  an exactly-sized copy, so that reading past size is an ASan error
    uint8_t *exact = malloc (size ? size : 1);
    if (exact) {
        memcpy (exact, buf, size);
        LLVMFuzzerTestOneInput (exact, size);
    }
    free (exact);
    free (buf);
    return exact ? 0 : -1;
}

int
main (int argc, char **argv)
{
    //  argv[0] without its directory, for messages
    const char *name = "fuzz_replay";
    if (argc > 0 && argv[0][0]) {
        const char *slash = strrchr (argv[0], '/');
        name = slash ? slash + 1 : argv[0];
    }
    int files = 0, errors = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st)) {
            fprintf (stderr, "%s: cannot stat %s\n", name, argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR (st.st_mode)) {
            errors += s_replay_file (name, argv[i]) ? 1 : 0;
            files++;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        if (!dir) {
            fprintf (stderr, "%s: cannot open %s\n", name, argv[i]);
            errors++;
            continue;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            if (stat (path, &st) || !S_ISREG (st.st_mode))
                continue;
            errors += s_replay_file (name, path) ? 1 : 0;
            files++;
        }
        closedir (dir);
    }
    printf ("%s: replayed %d files, %d errors\n", name, files, errors);
    return errors || files == 0 ? 1 : 0;
}
