//  megle-keygen - writes a CURVE key pair for megle's bus (MEGLE_CURVE=1,
//  docs/security.md) as two czmq cert files: PATH, the public cert (give
//  it away: the matcher's to every gateway and tap, a client's into the
//  matcher's MEGLE_CURVE_CLIENTS directory), and PATH_secret, the secret
//  cert (mode 0600; it never leaves the host of the process it is for).
//  Prints the public key (Z85) on stdout, for MEGLE_CURVE_SERVER_KEY.

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "Usage: megle-keygen [--name NAME] [--force] PATH\n"
             "Write a new CURVE key pair for megle's bus: PATH (public cert)\n"
             "and PATH_secret (secret cert, mode 0600). Prints the public\n"
             "key (Z85) on stdout.\n"
             "\n"
             "  --name NAME   a name kept in the cert (the matcher logs it\n"
             "                when it admits the client); default: the file "
             "name\n"
             "  --force       overwrite existing files\n"
             "  --print PATH  print the public key of an existing cert and "
             "exit\n"
             "  -h, --help    this text\n"
             "\n"
             "Exit status: 0 done, 1 failure, 2 bad option.\n");
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
        {"print", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *print = NULL;
    bool force = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'n':
            name = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'p':
            print = optarg;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        case ':':
            fprintf (stderr, "megle-keygen: %s: missing value\n",
                     argv[optind - 1]);
            return 2;
        default:
            fprintf (stderr, "megle-keygen: %s: unknown option\n",
                     argv[optind - 1]);
            return 2;
        }
    }
    if (print) {
        if (optind != argc) {
            fprintf (stderr, "megle-keygen: --print takes no PATH\n");
            return 2;
        }
        zcert_t *cert = zcert_load (print);
        if (!cert) {
            fprintf (stderr, "megle-keygen: %s: not a readable cert file\n",
                     print);
            return 1;
        }
        printf ("%s\n", zcert_public_txt (cert));
        zcert_destroy (&cert);
        return 0;
    }
    if (optind + 1 != argc) {
        fprintf (stderr, "megle-keygen: give exactly one PATH (see --help)\n");
        return 2;
    }
    const char *path = argv[optind];
    char secret[4096];
    if (snprintf (secret, sizeof secret, "%s_secret", path)
        >= (int) sizeof secret) {
        fprintf (stderr, "megle-keygen: %s: path too long\n", path);
        return 2;
    }
    if (!force && (s_exists (path) || s_exists (secret))) {
        fprintf (stderr,
                 "megle-keygen: %s or %s exists (use --force to replace "
                 "it)\n",
                 path, secret);
        return 1;
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "megle-keygen: cannot make a key pair\n");
        return 1;
    }
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    zcert_set_meta (cert, "name", "%s", name ? name : base);
    char created[32];
    time_t now = time (NULL);
    struct tm tm;
    strftime (created, sizeof created, "%Y-%m-%dT%H:%M:%SZ",
              gmtime_r (&now, &tm));
    zcert_set_meta (cert, "created-by", "megle-keygen");
    zcert_set_meta (cert, "created", "%s", created);
    //  The secret file is private from its first byte: no window in which
    //  another user could open it.
    mode_t old = umask (077);
    int rc = zcert_save_secret (cert, secret);
    umask (old);
    if (rc == 0)
        rc = chmod (secret, 0600);
    if (rc == 0)
        rc = zcert_save_public (cert, path);
    if (rc != 0) {
        fprintf (stderr, "megle-keygen: cannot write %s: %s\n", path,
                 strerror (errno));
        zcert_destroy (&cert);
        return 1;
    }
    printf ("%s\n", zcert_public_txt (cert));
    fprintf (stderr, "megle-keygen: wrote %s (public) and %s (secret)\n", path,
             secret);
    zcert_destroy (&cert);
    return 0;
}
