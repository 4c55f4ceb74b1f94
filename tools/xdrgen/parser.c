/*
 * Recursive-descent parser for the XDR language (XDR.md section 2.2).
 *
 * Every syntax error stops the generator with "expected X but found Y" at the
 * offending token.  A few constructs outside the original language are
 * accepted because their meaning is unambiguous (docs/xdr.md lists them):
 * hyper / unsigned hyper, bare unsigned, negative constants, numeric case
 * labels, and "struct NAME" / "union NAME" / "enum NAME" as a type name.
 */
#include <stdlib.h>
#include <string.h>

#include "xdrgen.h"

struct parser {
    struct lexer lx;
    struct spec *spec;
};

#define CUR (&p->lx.cur)

static int
is_punct(const struct token *t, char c)
{
    return t->kind == TK_PUNCT && t->text[0] == c;
}

static int
is_word(const struct token *t, const char *w)
{
    return t->kind == TK_IDENT && strcmp(t->text, w) == 0;
}

static const char *
tok_desc(const struct token *t)
{
    static char buf[96];

    if (t->kind == TK_EOF) {
        return "end of file";
    }
    snprintf(buf, sizeof(buf), "'%.80s'", t->text);
    return buf;
}

__attribute__((noreturn)) static void
expected(struct parser *p, const char *what)
{
    fatal_at(p->spec->file, CUR->line, CUR->col, "expected %s but found %s", what, tok_desc(CUR));
}

static void
expect_punct(struct parser *p, char c)
{
    char what[8];

    if (!is_punct(CUR, c)) {
        snprintf(what, sizeof(what), "'%c'", c);
        expected(p, what);
    }
    lexer_next(&p->lx);
}

static const char *const keywords[] = {
    "const",    "enum",     "struct",  "union",    "opaque_union", "typedef", "switch",
    "case",     "default",  "program", "version",  "void",         "int",     "long",
    "unsigned", "float",    "double",  "bool",     "string",       "opaque",  "zcopaque",
    "int32_t",  "uint32_t", "int64_t", "uint64_t", "hyper",        NULL,
};

static int
is_keyword(const char *s)
{
    for (int i = 0; keywords[i]; i++) {
        if (strcmp(keywords[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An identifier that names something (not a keyword). */
static char *
expect_name(struct parser *p, const char *what)
{
    if (CUR->kind != TK_IDENT || is_keyword(CUR->text)) {
        expected(p, what);
    }
    char *s = CUR->text;

    lexer_next(&p->lx);
    return s;
}

/* A number or a constant name (array sizes and bounds). */
static char *
expect_value(struct parser *p, const char *what)
{
    if (CUR->kind == TK_NUMBER || (CUR->kind == TK_IDENT && !is_keyword(CUR->text))) {
        char *s = CUR->text;

        lexer_next(&p->lx);
        return s;
    }
    expected(p, what);
}

/* [-]NUMBER: the minus is an extension (negative constants). */
static char *
expect_number(struct parser *p, const char *what)
{
    if (is_punct(CUR, '-')) {
        lexer_next(&p->lx);
        if (CUR->kind != TK_NUMBER) {
            expected(p, "a number after '-'");
        }
        char *s = xmalloc(strlen(CUR->text) + 4);

        sprintf(s, "(-%s)", CUR->text);
        lexer_next(&p->lx);
        return s;
    }
    if (CUR->kind != TK_NUMBER) {
        expected(p, what);
    }
    char *s = CUR->text;

    lexer_next(&p->lx);
    return s;
}

/* The type part of a declaration: a builtin keyword or a type name. */
static void
parse_type_spec(struct parser *p, struct typeref *t, int allow_void)
{
    memset(t, 0, sizeof(*t));
    t->line = CUR->line;
    t->col  = CUR->col;

    if (CUR->kind != TK_IDENT) {
        expected(p, "a type");
    }
    const char *w = CUR->text;

    if (strcmp(w, "unsigned") == 0) {
        lexer_next(&p->lx);
        if (is_word(CUR, "int") || is_word(CUR, "long")) {
            t->base = B_UINT32;
            lexer_next(&p->lx);
        } else if (is_word(CUR, "hyper")) {
            t->base = B_UINT64;
            lexer_next(&p->lx);
        } else if (is_word(CUR, "char") || is_word(CUR, "short")) {
            fatal_at(p->spec->file, CUR->line, CUR->col, "unsupported type 'unsigned %s'",
                     CUR->text);
        } else {
            t->base = B_UINT32; /* bare unsigned (extension) */
        }
        return;
    }

    static const struct {
        const char    *word;
        enum base_kind base;
    } builtins[] = {
        {"int", B_INT32},         {"long", B_INT32},    {"int32_t", B_INT32},
        {"uint32_t", B_UINT32},   {"int64_t", B_INT64}, {"uint64_t", B_UINT64},
        {"hyper", B_INT64},       {"float", B_FLOAT},   {"double", B_DOUBLE},
        {"bool", B_BOOL},         {"string", B_STRING}, {"opaque", B_OPAQUE},
        {"zcopaque", B_ZCOPAQUE}, {"void", B_VOID},     {NULL, B_NONE},
    };

    for (int i = 0; builtins[i].word; i++) {
        if (strcmp(w, builtins[i].word) == 0) {
            if (builtins[i].base == B_VOID && !allow_void) {
                fatal_at(p->spec->file, CUR->line, CUR->col,
                         "'void' is only allowed as a procedure type or a union arm");
            }
            t->base = builtins[i].base;
            lexer_next(&p->lx);
            return;
        }
    }
    if (strcmp(w, "char") == 0 || strcmp(w, "short") == 0 || strcmp(w, "quadruple") == 0) {
        fatal_at(p->spec->file, CUR->line, CUR->col, "unsupported type '%s'", w);
    }
    if (strcmp(w, "struct") == 0 || strcmp(w, "union") == 0 || strcmp(w, "enum") == 0) {
        const struct token *nt = lexer_peek(&p->lx);

        if (is_punct(nt, '{')) {
            fatal_at(p->spec->file, CUR->line, CUR->col,
                     "unsupported construct: inline (anonymous) %s declaration", w);
        }
        lexer_next(&p->lx);
    }
    t->base = B_NAMED;
    t->name = expect_name(p, "a type name");
}

/* NAME, *NAME, NAME[size], NAME<bound>, NAME<> after a type spec. */
static char *
parse_declarator(struct parser *p, struct typeref *t)
{
    char *name;

    if (is_punct(CUR, '*')) {
        lexer_next(&p->lx);
        t->deco = D_PTR;
        return expect_name(p, "a member name after '*'");
    }
    name = expect_name(p, "a member name");
    if (is_punct(CUR, '[')) {
        lexer_next(&p->lx);
        t->deco = D_FIXED;
        t->size = expect_value(p, "an array size (number or constant)");
        expect_punct(p, ']');
    } else if (is_punct(CUR, '<')) {
        lexer_next(&p->lx);
        t->deco = D_VAR;
        if (!is_punct(CUR, '>')) {
            t->size = expect_value(p, "a bound (number or constant) or '>'");
        }
        expect_punct(p, '>');
    }
    return name;
}

static struct member *
parse_member(struct parser *p)
{
    struct member *m = xmalloc(sizeof(*m));

    memset(m, 0, sizeof(*m));
    m->line = CUR->line;
    m->col  = CUR->col;
    parse_type_spec(p, &m->type, 0);
    m->name = parse_declarator(p, &m->type);
    expect_punct(p, ';');
    return m;
}

static struct def *
new_def(struct parser *p, enum def_kind kind, const struct token *at)
{
    struct def *d = xmalloc(sizeof(*d));

    memset(d, 0, sizeof(*d));
    d->kind  = kind;
    d->line  = at->line;
    d->col   = at->col;
    d->index = p->spec->ndefs;
    return d;
}

static void
parse_enum_body(struct parser *p, struct def *d)
{
    expect_punct(p, '{');
    for (;;) {
        d->entries           = xrealloc(d->entries, sizeof(*d->entries) * (d->nentries + 1));
        struct enum_entry *e = &d->entries[d->nentries++];

        e->name = expect_name(p, "an enumerator name");
        expect_punct(p, '=');
        if (CUR->kind == TK_IDENT) {
            e->value = expect_name(p, "an enumerator value");
        } else {
            e->value = expect_number(p, "an enumerator value (number or identifier)");
        }
        if (is_punct(CUR, ',')) {
            lexer_next(&p->lx);
            if (is_punct(CUR, '}')) {
                expected(p, "an enumerator after ','");
            }
            continue;
        }
        if (is_punct(CUR, '}')) {
            lexer_next(&p->lx);
            return;
        }
        expected(p, "',' or '}'");
    }
}

static void
parse_union_body(struct parser *p, struct def *d)
{
    if (!is_word(CUR, "switch")) {
        expected(p, "'switch'");
    }
    lexer_next(&p->lx);
    expect_punct(p, '(');
    d->disc.line = CUR->line;
    d->disc.col  = CUR->col;
    parse_type_spec(p, &d->disc.type, 0);
    d->disc.name = expect_name(p, "a discriminant name");
    expect_punct(p, ')');
    expect_punct(p, '{');

    struct arm *arm = NULL;

    for (;;) {
        if (is_word(CUR, "case") || is_word(CUR, "default")) {
            if (!arm) {
                arm = xmalloc(sizeof(*arm));
                memset(arm, 0, sizeof(*arm));
            }
            if (is_word(CUR, "default")) {
                if (d->has_default) {
                    fatal_at(p->spec->file, CUR->line, CUR->col, "duplicate 'default' in union %s",
                             d->name);
                }
                d->has_default  = 1;
                arm->is_default = 1;
                lexer_next(&p->lx);
            } else {
                lexer_next(&p->lx);
                char *label;

                if (CUR->kind == TK_NUMBER || is_punct(CUR, '-')) {
                    label = expect_number(p, "a case label");
                } else {
                    label = expect_name(p, "a case label (identifier)");
                }
                arm->labels = xrealloc(arm->labels, sizeof(char *) * (arm->nlabels + 2));
                arm->labels[arm->nlabels++] = label;
                arm->labels[arm->nlabels]   = NULL;
            }
            expect_punct(p, ':');
            continue;
        }
        if (is_punct(CUR, '}')) {
            if (arm) {
                expected(p, "a declaration or 'void' after the case label");
            }
            if (d->narms == 0) {
                fatal_at(p->spec->file, CUR->line, CUR->col, "union %s has no cases", d->name);
            }
            lexer_next(&p->lx);
            return;
        }
        if (!arm) {
            expected(p, "'case', 'default' or '}'");
        }
        if (is_word(CUR, "void")) {
            lexer_next(&p->lx);
            expect_punct(p, ';');
        } else {
            arm->member = parse_member(p);
        }
        d->arms             = xrealloc(d->arms, sizeof(*d->arms) * (d->narms + 1));
        d->arms[d->narms++] = arm;
        arm                 = NULL;
    }
}

static void
parse_proc_type(struct parser *p, struct typeref *t, int result)
{
    parse_type_spec(p, t, 1);
    if (is_punct(CUR, '*')) {
        lexer_next(&p->lx);
        t->deco = D_PTR;
    }
    if (result && is_punct(CUR, '[')) {
        lexer_next(&p->lx);
        t->deco = D_FIXED;
        t->size = expect_value(p, "an array size");
        expect_punct(p, ']');
    }
}

static void
parse_program_body(struct parser *p, struct def *d)
{
    expect_punct(p, '{');
    do {
        if (!is_word(CUR, "version")) {
            expected(p, "'version'");
        }
        struct version *v = xmalloc(sizeof(*v));

        memset(v, 0, sizeof(*v));
        v->line = CUR->line;
        lexer_next(&p->lx);
        v->name = expect_name(p, "a version name");
        expect_punct(p, '{');
        do {
            struct proc *pr = xmalloc(sizeof(*pr));

            memset(pr, 0, sizeof(*pr));
            pr->line = CUR->line;
            pr->col  = CUR->col;
            parse_proc_type(p, &pr->res, 1);
            pr->name = expect_name(p, "a procedure name");
            expect_punct(p, '(');
            parse_proc_type(p, &pr->arg, 0);
            if (is_punct(CUR, ',')) {
                fatal_at(p->spec->file, CUR->line, CUR->col,
                         "unsupported construct: more than one procedure argument");
            }
            expect_punct(p, ')');
            expect_punct(p, '=');
            if (CUR->kind != TK_NUMBER || CUR->text[1] == 'x' || CUR->text[1] == 'X') {
                expected(p, "a decimal procedure number");
            }
            pr->number = CUR->text;
            pr->num    = strtoul(CUR->text, NULL, 10);
            lexer_next(&p->lx);
            expect_punct(p, ';');
            v->procs              = xrealloc(v->procs, sizeof(*v->procs) * (v->nprocs + 1));
            v->procs[v->nprocs++] = pr;
        } while (!is_punct(CUR, '}'));
        lexer_next(&p->lx);
        expect_punct(p, '=');
        v->number = expect_number(p, "a version number");
        expect_punct(p, ';');
        d->versions = xrealloc(d->versions, sizeof(*d->versions) * (d->nversions + 1));
        d->versions[d->nversions++] = v;
    } while (!is_punct(CUR, '}'));
    lexer_next(&p->lx);
    expect_punct(p, '=');
    d->number = expect_number(p, "a program number");
}

static struct def *
parse_def(struct parser *p)
{
    struct token at = *CUR;
    struct def  *d;

    if (is_word(CUR, "const")) {
        lexer_next(&p->lx);
        d       = new_def(p, DEF_CONST, &at);
        d->name = expect_name(p, "a constant name");
        expect_punct(p, '=');
        d->value = expect_number(p, "a number");
    } else if (is_word(CUR, "enum")) {
        lexer_next(&p->lx);
        d       = new_def(p, DEF_ENUM, &at);
        d->name = expect_name(p, "an enum name");
        parse_enum_body(p, d);
    } else if (is_word(CUR, "typedef")) {
        lexer_next(&p->lx);
        d = new_def(p, DEF_TYPEDEF, &at);
        parse_type_spec(p, &d->target, 0);
        d->name = parse_declarator(p, &d->target);
    } else if (is_word(CUR, "struct")) {
        lexer_next(&p->lx);
        d       = new_def(p, DEF_STRUCT, &at);
        d->name = expect_name(p, "a struct name");
        expect_punct(p, '{');
        do {
            struct member *m = parse_member(p);

            d->members = xrealloc(d->members, sizeof(*d->members) * (d->nmembers + 1));
            d->members[d->nmembers++] = m;
        } while (!is_punct(CUR, '}'));
        lexer_next(&p->lx);
    } else if (is_word(CUR, "union") || is_word(CUR, "opaque_union")) {
        int ou = is_word(CUR, "opaque_union");

        lexer_next(&p->lx);
        d               = new_def(p, DEF_UNION, &at);
        d->opaque_union = ou;
        d->name         = expect_name(p, "a union name");
        parse_union_body(p, d);
    } else if (is_word(CUR, "program")) {
        lexer_next(&p->lx);
        d       = new_def(p, DEF_PROGRAM, &at);
        d->name = expect_name(p, "a program name");
        parse_program_body(p, d);
    } else {
        expected(p, "a definition (const, enum, typedef, struct, union, opaque_union or program)");
    }
    expect_punct(p, ';');
    return d;
}

void
parse_spec(struct spec *spec, const char *file, const char *src, size_t len)
{
    struct parser p;

    memset(&p, 0, sizeof(p));
    p.spec = spec;
    lexer_init(&p.lx, file, src, len);
    lexer_next(&p.lx);
    while (p.lx.cur.kind != TK_EOF) {
        struct def *d = parse_def(&p);

        spec->defs                = xrealloc(spec->defs, sizeof(*spec->defs) * (spec->ndefs + 1));
        spec->defs[spec->ndefs++] = d;
    }
}
