/*
 * xdrzcc [-h] [-r] [-e] [--] input.x output.c output.h
 *
 * Exit status 0 on success, 1 on any error.  Outputs are written to
 * temporary files next to their destination and renamed into place only
 * when both are complete; on failure nothing half-written remains (an older
 * output of the same name is removed too, so a build never picks up code
 * that does not match its .x).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xdrgen.h"

static char       *tmp_paths[2];
static const char *out_paths[2];

static void
cleanup_outputs(void)
{
    for (int i = 0; i < 2; i++) {
        if (tmp_paths[i]) {
            unlink(tmp_paths[i]);
            tmp_paths[i] = NULL;
        }
        if (out_paths[i]) {
            unlink(out_paths[i]);
        }
    }
}

__attribute__((noreturn)) static void
die(void)
{
    cleanup_outputs();
    exit(1);
}

/*
 * Every allocation is recorded and freed at exit (atexit), so that the
 * generator stays clean under ASan's leak checker and valgrind although the
 * passes never free what they build.
 */
static void **allocs;
static size_t nallocs, cap_allocs;

static void
free_all(void)
{
    for (size_t i = 0; i < nallocs; i++) {
        free(allocs[i]);
    }
    free(allocs);
    allocs  = NULL;
    nallocs = cap_allocs = 0;
}

static void
record(void *p)
{
    if (nallocs == cap_allocs) {
        size_t cap = cap_allocs ? cap_allocs * 2 : 1024;
        void **a   = realloc(allocs, cap * sizeof(*a));

        if (!a) {
            fprintf(stderr, "xdrzcc: out of memory\n");
            free(p);
            die();
        }
        if (!allocs) {
            atexit(free_all);
        }
        allocs     = a;
        cap_allocs = cap;
    }
    allocs[nallocs++] = p;
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fprintf(stderr, "xdrzcc: out of memory\n");
        die();
    }
    record(p);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    if (!p) {
        return xmalloc(n);
    }
    void *q = realloc(p, n ? n : 1);

    if (!q) {
        fprintf(stderr, "xdrzcc: out of memory\n");
        die();
    }
    for (size_t i = nallocs; i-- > 0;) {
        if (allocs[i] == p) {
            allocs[i] = q;
            break;
        }
    }
    return q;
}

char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char  *d = xmalloc(n);

    memcpy(d, s, n);
    return d;
}

void
fatal_at(const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d:%d: Error: ", file, line, col);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " at line %d, column %d\n", line, col);
    die();
}

void
warn_at(struct spec *spec, int line, int col, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d:%d: warning: ", spec->file, line, col);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    spec->warnings++;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: xdrzcc [-h] [-r] [-e] [--] input.x output.c output.h\n"
               "  -r  also emit the RPC2 program layer (client calls, server dispatch)\n"
               "  -e  accept enum values the declaration does not name (no domain checks)\n"
               "  -h  this help\n");
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");

    if (!f) {
        fprintf(stderr, "xdrzcc: cannot read %s: %s\n", path, strerror(errno));
        die();
    }
    size_t cap = 65536, n = 0;
    char  *buf = xmalloc(cap + 1);

    for (;;) {
        size_t r = fread(buf + n, 1, cap - n, f);

        n += r;
        if (n < cap) {
            if (ferror(f)) {
                fprintf(stderr, "xdrzcc: cannot read %s: %s\n", path, strerror(errno));
                fclose(f);
                die();
            }
            break;
        }
        cap *= 2;
        buf = xrealloc(buf, cap + 1);
    }
    fclose(f);
    buf[n] = '\0';
    *len   = n;
    return buf;
}

static FILE *
open_temp(int which, const char *dest)
{
    size_t n = strlen(dest) + 16;

    tmp_paths[which] = xmalloc(n);
    snprintf(tmp_paths[which], n, "%s.XXXXXX", dest);

    int fd = mkstemp(tmp_paths[which]);

    if (fd < 0) {
        fprintf(stderr, "xdrzcc: cannot write %s: %s\n", dest, strerror(errno));
        tmp_paths[which] = NULL;
        die();
    }
    mode_t mask = umask(0);

    umask(mask);
    (void) fchmod(fd, 0666 & ~mask); /* mkstemp makes 0600; outputs are ordinary files */

    FILE *f = fdopen(fd, "w");

    if (!f) {
        fprintf(stderr, "xdrzcc: cannot write %s: %s\n", dest, strerror(errno));
        close(fd);
        die();
    }
    return f;
}

static void
close_temp(FILE *f, const char *dest)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "xdrzcc: cannot write %s: %s\n", dest, strerror(errno));
        die();
    }
}

int
main(int argc, char **argv)
{
    struct options opt;
    const char    *pos[3];
    int            npos = 0, opts_done = 0;

    memset(&opt, 0, sizeof(opt));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
        } else if (!opts_done && a[0] == '-' && a[1] != '\0') {
            for (const char *c = a + 1; *c; c++) {
                switch (*c) {
                case 'h':
                    usage(stderr);
                    return 0;
                case 'r':
                    opt.rpc = 1;
                    break;
                case 'e':
                    opt.no_enum_check = 1;
                    break;
                default:
                    fprintf(stderr, "xdrzcc: unknown option '-%c'\n", *c);
                    usage(stderr);
                    return 1;
                }
            }
        } else {
            if (npos == 3) {
                fprintf(stderr, "xdrzcc: too many arguments\n");
                usage(stderr);
                return 1;
            }
            pos[npos++] = a;
        }
    }
    if (npos != 3) {
        fprintf(stderr, "xdrzcc: expected input.x output.c output.h\n");
        usage(stderr);
        return 1;
    }

    size_t      len;
    char       *src = read_file(pos[0], &len);
    struct spec spec;

    memset(&spec, 0, sizeof(spec));
    spec.file    = pos[0];
    out_paths[0] = pos[1];
    out_paths[1] = pos[2];

    parse_spec(&spec, pos[0], src, len);
    resolve_spec(&spec, &opt);

    FILE *fc = open_temp(0, pos[1]);
    FILE *fh = open_temp(1, pos[2]);

    emit_source(fc, &spec, &opt, pos[2]);
    emit_header(fh, &spec, &opt);
    close_temp(fc, pos[1]);
    close_temp(fh, pos[2]);
    if (rename(tmp_paths[1], pos[2]) != 0 || rename(tmp_paths[0], pos[1]) != 0) {
        fprintf(stderr, "xdrzcc: cannot rename outputs into place: %s\n", strerror(errno));
        die();
    }
    return 0;
}
