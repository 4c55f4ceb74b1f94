/*
 * Name resolution and checks (XDR.md sections 2.2, 2.5, 2.6).
 *
 * Typedefs are flattened into the members that use them; a decoration
 * written at the use of a typedef name is discarded with a warning, as the
 * original generator does (programs rely on the resulting C shape).  Structs and unions are then
 * put in emission order: a type comes after every struct/union it names, self-references excepted.
 */
#include <string.h>

#include "xdrgen.h"

struct def *
spec_lookup(struct spec *spec, const char *name)
{
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        if (d->kind != DEF_PROGRAM && strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

int
def_is_list(const struct def *d)
{
    return d->kind == DEF_STRUCT && d->next_member != NULL;
}

static void resolve_type(struct spec *spec, struct typeref *t, int depth);

/* Flatten typedef d into *t (the use site). */
static void
apply_typedef(struct spec *spec, struct typeref *t, struct def *d, int depth)
{
    struct typeref target = d->target;

    if (depth > 64) {
        fatal_at(spec->file, d->line, d->col, "typedef '%s' refers to itself", d->name);
    }
    resolve_type(spec, &target, depth + 1);
    if (t->deco != D_NONE) {
        /* the original generator's rule, kept for the same C shape (XDR.md 2.5) */
        warn_at(spec, t->line, t->col,
                "decoration on typedef '%s' at its use is discarded; the member has the "
                "typedef's own shape (use the underlying type to get an array)",
                d->name);
    }
    t->deco = target.deco;
    t->size = target.size;
    t->base = target.base;
    t->name = target.name;
    t->def  = target.def;
}

static void
resolve_type(struct spec *spec, struct typeref *t, int depth)
{
    if (t->base != B_NAMED || t->def) {
        return;
    }
    struct def *d = spec_lookup(spec, t->name);

    if (!d) {
        fatal_at(spec->file, t->line, t->col, "undefined type '%s'", t->name);
    }
    switch (d->kind) {
    case DEF_TYPEDEF:
        apply_typedef(spec, t, d, depth);
        break;
    case DEF_ENUM:
    case DEF_STRUCT:
    case DEF_UNION:
        t->def = d;
        break;
    default:
        fatal_at(spec->file, t->line, t->col, "'%s' is a constant, not a type", t->name);
    }
}

/* Resolve and check a member of struct/union owner. */
static void
check_member(struct spec *spec, struct def *owner, struct member *m)
{
    resolve_type(spec, &m->type, 0);

    struct typeref *t = &m->type;

    switch (t->base) {
    case B_STRING:
        if (t->deco == D_PTR) {
            fatal_at(spec->file, m->line, m->col,
                     "unsupported construct: optional string '%s' (wrap it in a struct)", m->name);
        }
        if (t->deco == D_FIXED) {
            warn_at(spec, m->line, m->col, "string '%s[%s]' is treated as string<%s>", m->name,
                    t->size, t->size);
            t->deco = D_VAR;
        }
        break;
    case B_OPAQUE:
    case B_ZCOPAQUE:
        if (t->deco == D_PTR) {
            fatal_at(spec->file, m->line, m->col, "unsupported construct: optional opaque '%s'",
                     m->name);
        }
        break;
    case B_NAMED:
        if (t->def == owner && (t->deco == D_NONE || t->deco == D_FIXED)) {
            fatal_at(spec->file, m->line, m->col,
                     "'%s' contains itself without '*' or '<>' (infinite size)", m->name);
        }
        break;
    default:
        break;
    }
}

static void
check_dup_member(struct spec *spec, const char **names, int n, const struct member *m)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], m->name) == 0) {
            fatal_at(spec->file, m->line, m->col, "duplicate member name '%s'", m->name);
        }
    }
}

static void
resolve_struct(struct spec *spec, struct def *d)
{
    const char **names = xmalloc(sizeof(char *) * (d->nmembers + 1));

    for (int i = 0; i < d->nmembers; i++) {
        struct member *m = d->members[i];

        check_member(spec, d, m);
        check_dup_member(spec, names, i, m);
        names[i] = m->name;
        if (m->type.deco == D_PTR && m->type.def == d && strncmp(m->name, "next", 4) == 0 &&
            !d->next_member) {
            d->next_member = m;
        }
    }
}

static void
resolve_union(struct spec *spec, struct def *d)
{
    struct typeref *dt = &d->disc.type;

    resolve_type(spec, dt, 0);
    if (dt->deco != D_NONE || !(dt->base == B_INT32 || dt->base == B_UINT32 || dt->base == B_BOOL ||
                                (dt->base == B_NAMED && dt->def->kind == DEF_ENUM))) {
        fatal_at(spec->file, d->disc.line, d->disc.col,
                 "unsupported discriminant type for union '%s' (int, unsigned int, bool or an "
                 "enum)",
                 d->name);
    }

    const char **names = xmalloc(sizeof(char *) * (d->narms + 2));
    int          n     = 0;

    names[n++] = d->disc.name;
    for (int i = 0; i < d->narms; i++) {
        struct member *m = d->arms[i]->member;

        if (!m) {
            continue;
        }
        check_member(spec, d, m);
        check_dup_member(spec, names, n, m);
        names[n++] = m->name;
    }
}

/* Proc argument/result types: XDR.md 2.4 plus typedef and enum names. */
static void
resolve_proc_type(struct spec *spec, struct proc *pr, struct typeref *t, int result)
{
    int written_deco = t->deco;

    if (t->base == B_VOID) {
        if (t->deco != D_NONE) {
            fatal_at(spec->file, t->line, t->col, "'void' cannot be decorated");
        }
        return;
    }
    if (t->base == B_NAMED) {
        struct def *d = spec_lookup(spec, t->name);

        if (d && d->kind == DEF_TYPEDEF) {
            t->deco = D_NONE;
            apply_typedef(spec, t, d, 0);
            if (written_deco == D_FIXED) {
                fatal_at(spec->file, t->line, t->col,
                         "unsupported procedure type: array of typedef '%s'", d->name);
            }
        } else {
            resolve_type(spec, t, 0);
        }
    }
    if (t->deco == D_PTR) {
        t->deco = D_NONE; /* "T *" is T */
    }
    switch (t->base) {
    case B_OPAQUE:
    case B_ZCOPAQUE:
        fatal_at(spec->file, t->line, t->col,
                 "unsupported procedure type for '%s': opaque (wrap it in a struct)", pr->name);
    case B_STRING:
        t->deco = D_NONE;
        return;
    case B_NAMED:
        if (t->deco == D_FIXED && (!result || t->def->kind == DEF_ENUM)) {
            fatal_at(spec->file, t->line, t->col,
                     "unsupported procedure type for '%s': only results may be T[N] of a struct",
                     pr->name);
        }
        if (t->deco == D_VAR) {
            fatal_at(spec->file, t->line, t->col,
                     "unsupported procedure type for '%s': variable-length array (wrap it in a "
                     "struct)",
                     pr->name);
        }
        return;
    default:
        if (t->deco != D_NONE) {
            fatal_at(spec->file, t->line, t->col,
                     "unsupported procedure type for '%s': array of a builtin (wrap it in a "
                     "struct)",
                     pr->name);
        }
        return;
    }
}

static void
resolve_program(struct spec *spec, struct def *d, const struct options *opt)
{
    (void) opt;
    for (int v = 0; v < d->nversions; v++) {
        struct version *ver = d->versions[v];

        for (int i = 0; i < ver->nprocs; i++) {
            struct proc *pr = ver->procs[i];

            resolve_proc_type(spec, pr, &pr->arg, 0);
            resolve_proc_type(spec, pr, &pr->res, 1);
            for (int j = 0; j < i; j++) {
                if (strcmp(ver->procs[j]->name, pr->name) == 0) {
                    fatal_at(spec->file, pr->line, pr->col, "duplicate procedure name '%s'",
                             pr->name);
                }
                if (ver->procs[j]->num == pr->num) {
                    fatal_at(spec->file, pr->line, pr->col,
                             "duplicate procedure number %lu in version '%s'", pr->num, ver->name);
                }
            }
        }
    }
}

/* Struct/union dependencies of d (self excepted). */
static int
deps_of(struct def *d, struct def **out)
{
    int n = 0;

#define DEP(m)                                                                                     \
    do {                                                                                           \
        if ((m) && (m)->type.base == B_NAMED && (m)->type.def != d &&                              \
            (m)->type.def->kind != DEF_ENUM) {                                                     \
            out[n++] = (m)->type.def;                                                              \
        }                                                                                          \
    } while (0)
    if (d->kind == DEF_STRUCT) {
        for (int i = 0; i < d->nmembers; i++) {
            DEP(d->members[i]);
        }
    } else {
        for (int i = 0; i < d->narms; i++) {
            DEP(d->arms[i]->member);
        }
    }
#undef DEP
    return n;
}

static void
order_visit(struct spec *spec, struct def *d)
{
    if (d->emitted) {
        return;
    }
    if (d->visiting) {
        fatal_at(spec->file, d->line, d->col,
                 "unsupported construct: '%s' is part of a mutual recursion between types "
                 "(only self-recursion through '*' is supported)",
                 d->name);
    }
    d->visiting = 1;

    int          cap  = (d->kind == DEF_STRUCT ? d->nmembers : d->narms) + 1;
    struct def **deps = xmalloc(sizeof(*deps) * cap);
    int          n    = deps_of(d, deps);

    for (int i = 0; i < n; i++) {
        order_visit(spec, deps[i]);
    }
    d->visiting                 = 0;
    d->emitted                  = 1;
    spec->order[spec->norder++] = d;
}

void
resolve_spec(struct spec *spec, const struct options *opt)
{
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        for (int j = 0; j < i; j++) {
            struct def *o = spec->defs[j];

            if (strcmp(o->name, d->name) == 0 &&
                ((o->kind == DEF_PROGRAM) == (d->kind == DEF_PROGRAM))) {
                fatal_at(spec->file, d->line, d->col,
                         "duplicate name '%s' (first defined at line %d, column %d)", d->name,
                         o->line, o->col);
            }
        }
        if (d->kind == DEF_STRUCT) {
            resolve_struct(spec, d);
        } else if (d->kind == DEF_UNION) {
            resolve_union(spec, d);
        } else if (d->kind == DEF_TYPEDEF) {
            struct typeref t = {.base = B_NAMED, .name = d->name, .line = d->line, .col = d->col};

            resolve_type(spec, &t, 0); /* undefined targets and cycles */
        }
    }
    for (int i = 0; i < spec->ndefs; i++) {
        if (spec->defs[i]->kind == DEF_PROGRAM) {
            resolve_program(spec, spec->defs[i], opt);
        }
    }
    /* version names become C struct names: unique across programs */
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        for (int v = 0; d->kind == DEF_PROGRAM && v < d->nversions; v++) {
            struct def *clash = spec_lookup(spec, d->versions[v]->name);

            if (clash && clash->kind != DEF_CONST) {
                fatal_at(spec->file, d->versions[v]->line, 1,
                         "version name '%s' clashes with a type name", d->versions[v]->name);
            }
            for (int j = 0; j <= i; j++) {
                struct def *o = spec->defs[j];

                for (int w = 0; o->kind == DEF_PROGRAM && w < o->nversions; w++) {
                    if ((j < i || w < v) &&
                        strcmp(o->versions[w]->name, d->versions[v]->name) == 0) {
                        fatal_at(spec->file, d->versions[v]->line, 1, "duplicate version name '%s'",
                                 d->versions[v]->name);
                    }
                }
            }
        }
    }
    spec->order = xmalloc(sizeof(*spec->order) * (spec->ndefs + 1));
    for (int i = 0; i < spec->ndefs; i++) {
        struct def *d = spec->defs[i];

        if (d->kind == DEF_STRUCT || d->kind == DEF_UNION) {
            order_visit(spec, d);
        }
    }
}
