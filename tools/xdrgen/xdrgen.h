/*
 * xdrzcc: the XDR code generator (docs/xdr.md, contract ../shared/XDR.md).
 *
 * Pipeline: lexer.c turns the .x file into tokens, parser.c builds the
 * definitions below (recursive descent), resolve.c flattens typedefs, checks
 * names and orders the types, emit.c writes the header and the codecs and
 * emit_rpc.c the -r program layer.  Nothing is freed before exit: the
 * generator is a short-lived program and every allocation lives until the
 * outputs are written.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

/* ---- tokens -------------------------------------------------------------- */

enum tok_kind {
    TK_EOF,
    TK_IDENT,
    TK_NUMBER,
    TK_PUNCT, /* one of ; , = { } ( ) [ ] < > * : - */
};

struct token {
    enum tok_kind kind;
    char         *text; /* identifier, number text or the punctuation char */
    int           line;
    int           col;
};

struct lexer {
    const char  *file;
    const char  *src;
    size_t       len;
    size_t       pos;
    int          line;
    int          col;
    struct token cur;
    struct token peek;
    int          have_peek;
};

void                lexer_init(struct lexer *lx, const char *file, const char *src, size_t len);
void                lexer_next(struct lexer *lx);
const struct token *lexer_peek(struct lexer *lx);

/* ---- definitions ---------------------------------------------------------- */

enum base_kind {
    B_NONE,
    B_INT32,
    B_UINT32,
    B_INT64,
    B_UINT64,
    B_FLOAT,
    B_DOUBLE,
    B_BOOL,
    B_STRING,
    B_OPAQUE,
    B_ZCOPAQUE,
    B_VOID,
    B_NAMED, /* an identifier: struct, union, enum or typedef (resolved later) */
};

enum deco_kind {
    D_NONE,
    D_FIXED, /* [size] */
    D_VAR,   /* <bound> or <> */
    D_PTR,   /* * */
};

struct def;

/* A type with its decoration, as written or after typedef flattening. */
struct typeref {
    enum base_kind base;
    char          *name; /* B_NAMED: the identifier as written */
    enum deco_kind deco;
    char          *size; /* D_FIXED: size text; D_VAR: bound text or NULL */
    struct def    *def;  /* B_NAMED after resolution: struct, union or enum */
    int            line;
    int            col;
};

struct member {
    struct typeref type;
    char          *name; /* NULL for a void arm */
    int            line;
    int            col;
};

struct arm {
    char         **labels; /* NULL-terminated; a NULL entry in is_default */
    int            nlabels;
    int            is_default;
    struct member *member; /* NULL: void arm */
};

struct proc {
    char          *name;
    struct typeref arg;
    struct typeref res;
    char          *number;
    unsigned long  num;
    int            line;
    int            col;
};

struct version {
    char         *name;
    char         *number;
    struct proc **procs;
    int           nprocs;
    int           line;
};

enum def_kind {
    DEF_CONST,
    DEF_ENUM,
    DEF_TYPEDEF,
    DEF_STRUCT,
    DEF_UNION,
    DEF_PROGRAM,
};

struct enum_entry {
    char *name;
    char *value;
};

struct def {
    enum def_kind kind;
    char         *name;
    int           line;
    int           col;
    int           index; /* file order */
    /* const */
    char *value;
    /* enum */
    struct enum_entry *entries;
    int                nentries;
    /* typedef */
    struct typeref target;
    /* struct */
    struct member **members;
    int             nmembers;
    struct member  *next_member; /* linked-list struct: its next* member */
    /* union */
    int           opaque_union;
    struct member disc;
    struct arm  **arms;
    int           narms;
    int           has_default;
    /* program */
    char            *number;
    struct version **versions;
    int              nversions;
    /* resolution */
    int emitted;
    int visiting;
};

struct spec {
    const char  *file;
    struct def **defs;
    int          ndefs;
    struct def **order; /* structs and unions in emission order */
    int          norder;
    int          warnings;
};

struct options {
    int rpc;
    int no_enum_check;
};

/* ---- helpers (main.c) ------------------------------------------------------ */

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void  fatal_at(const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
void warn_at(struct spec *spec, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- passes ---------------------------------------------------------------- */

void        parse_spec(struct spec *spec, const char *file, const char *src, size_t len);
void        resolve_spec(struct spec *spec, const struct options *opt);
struct def *spec_lookup(struct spec *spec, const char *name);
int         def_is_list(const struct def *d);
void        emit_header(FILE *f, struct spec *spec, const struct options *opt);
void emit_source(FILE *f, struct spec *spec, const struct options *opt, const char *header_path);
void emit_rpc_header(FILE *f, struct spec *spec);
void emit_rpc_source(FILE *f, struct spec *spec, const struct options *opt);

/* The embedded runtime (generated at build time from runtime/). */
extern const char xdrgen_runtime_h[];
extern const char xdrgen_runtime_c[];
