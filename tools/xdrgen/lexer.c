/*
 * Hand-written lexer for the XDR language (XDR.md section 2.1).
 *
 * Only block comments exist; a '%' outside a comment skips the rest of its
 * line (rpcgen passes those lines through; xdrzcc drops them so that
 * "%#include <rpc/...>" never reaches the output).  Numbers are decimal or
 * hex and keep their text, which is copied verbatim into the C output.
 */
#include <ctype.h>
#include <string.h>

#include "xdrgen.h"

void
lexer_init(struct lexer *lx, const char *file, const char *src, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->file = file;
    lx->src  = src;
    lx->len  = len;
    lx->line = 1;
    lx->col  = 1;
}

static int
lx_ch(struct lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char) lx->src[lx->pos + ahead] : -1;
}

static void
lx_adv(struct lexer *lx)
{
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static struct token
lx_scan(struct lexer *lx)
{
    struct token t;

    for (;;) {
        int c = lx_ch(lx, 0);

        if (c == -1) {
            break;
        }
        if (c == '\0') {
            fatal_at(lx->file, lx->line, lx->col, "unexpected NUL byte");
        }
        if (isspace(c)) {
            lx_adv(lx);
        } else if (c == '/' && lx_ch(lx, 1) == '*') {
            int line = lx->line, col = lx->col;

            lx_adv(lx);
            lx_adv(lx);
            while (!(lx_ch(lx, 0) == '*' && lx_ch(lx, 1) == '/')) {
                if (lx_ch(lx, 0) == -1) {
                    fatal_at(lx->file, line, col, "unterminated comment");
                }
                lx_adv(lx);
            }
            lx_adv(lx);
            lx_adv(lx);
        } else if (c == '/' && lx_ch(lx, 1) == '/') {
            fatal_at(lx->file, lx->line, lx->col,
                     "'//' comments are not supported (use /* ... */)");
        } else if (c == '%') {
            while (lx_ch(lx, 0) != -1 && lx_ch(lx, 0) != '\n') {
                lx_adv(lx);
            }
        } else {
            break;
        }
    }

    t.line = lx->line;
    t.col  = lx->col;
    int c  = lx_ch(lx, 0);

    if (c == -1) {
        t.kind = TK_EOF;
        t.text = "end of file";
        return t;
    }

    size_t start = lx->pos;

    if (isalpha(c) || c == '_') {
        while (lx_ch(lx, 0) != -1 && (isalnum(lx_ch(lx, 0)) || lx_ch(lx, 0) == '_')) {
            lx_adv(lx);
        }
        t.kind = TK_IDENT;
    } else if (isdigit(c)) {
        if (c == '0' && (lx_ch(lx, 1) == 'x' || lx_ch(lx, 1) == 'X')) {
            lx_adv(lx);
            lx_adv(lx);
            if (lx_ch(lx, 0) == -1 || !isxdigit(lx_ch(lx, 0))) {
                fatal_at(lx->file, t.line, t.col, "expected hex digits after '0x'");
            }
            while (lx_ch(lx, 0) != -1 && isxdigit(lx_ch(lx, 0))) {
                lx_adv(lx);
            }
        } else {
            while (lx_ch(lx, 0) != -1 && isdigit(lx_ch(lx, 0))) {
                lx_adv(lx);
            }
        }
        if (lx_ch(lx, 0) != -1 && (isalpha(lx_ch(lx, 0)) || lx_ch(lx, 0) == '_')) {
            fatal_at(lx->file, lx->line, lx->col, "malformed number");
        }
        t.kind = TK_NUMBER;
    } else if (strchr(";,={}()[]<>*:-", c)) {
        lx_adv(lx);
        t.kind = TK_PUNCT;
    } else if (isprint(c)) {
        fatal_at(lx->file, t.line, t.col, "unexpected character '%c'", c);
    } else {
        fatal_at(lx->file, t.line, t.col, "unexpected byte 0x%02x", c);
    }

    size_t n = lx->pos - start;

    t.text = xmalloc(n + 1);
    memcpy(t.text, lx->src + start, n);
    t.text[n] = '\0';
    return t;
}

void
lexer_next(struct lexer *lx)
{
    if (lx->have_peek) {
        lx->cur       = lx->peek;
        lx->have_peek = 0;
    } else {
        lx->cur = lx_scan(lx);
    }
}

const struct token *
lexer_peek(struct lexer *lx)
{
    if (!lx->have_peek) {
        lx->peek      = lx_scan(lx);
        lx->have_peek = 1;
    }
    return &lx->peek;
}
