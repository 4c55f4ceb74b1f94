/*
 * The memory BIO between OpenSSL and a TLS connection's byte buffers.
 *
 * OpenSSL's own BIO_s_mem would do, but it makes us copy ciphertext into it
 * (socket -> scratch -> BIO) and out of it again.  This one reads from and
 * writes to the connection's `in`/`out` queues directly, so the socket is
 * read straight into `in` and written straight from `out`.  Writes always
 * succeed (the queue grows): OpenSSL then never has a half-written record to
 * retry, and the transport bounds how much it encrypts before sending.
 */
#ifdef EVPL_HAVE_OPENSSL

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

/* Initial queue size: one full record plus headroom. */
#define BUF_MIN 32768

static BIO_METHOD    *bio_method;
static pthread_once_t bio_method_once = PTHREAD_ONCE_INIT;

int
evpl_tls_buf_reserve(struct evpl_tls_buf *b, uint32_t want)
{
    uint32_t len = evpl_tls_buf_len(b);

    if (b->cap - b->tail >= want) {
        return 0;
    }
    if (b->head && b->cap - len >= want) {
        memmove(b->data, b->data + b->head, len);
        b->head = 0;
        b->tail = len;
        return 0;
    }

    uint64_t cap = b->cap ? b->cap : BUF_MIN;
    while (cap < (uint64_t) len + want) {
        cap *= 2;
    }
    if (cap > UINT32_MAX) {
        return -ENOMEM;
    }
    if (b->head) {
        memmove(b->data, b->data + b->head, len);
        b->head = 0;
        b->tail = len;
    }
    unsigned char *data = realloc(b->data, cap);
    if (data == NULL) {
        return -ENOMEM;
    }
    b->data = data;
    b->cap  = cap;
    return 0;
}

void
evpl_tls_buf_free(struct evpl_tls_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->head = b->tail = b->cap = 0;
}

static int
bio_write(BIO *bio, const char *data, int len)
{
    struct evpl_tls *t = BIO_get_data(bio);

    BIO_clear_retry_flags(bio);
    if (len <= 0) {
        return 0;
    }
    if (evpl_tls_buf_reserve(&t->out, len) < 0) {
        return -1;
    }
    memcpy(t->out.data + t->out.tail, data, len);
    t->out.tail += len;
    return len;
}

static int
bio_read(BIO *bio, char *data, int len)
{
    struct evpl_tls *t     = BIO_get_data(bio);
    uint32_t         avail = evpl_tls_buf_len(&t->in);

    BIO_clear_retry_flags(bio);
    if (avail == 0) {
        if (t->flags & EVPL_TLS_EOF) {
            return 0; /* end of stream: OpenSSL reports it, never retries */
        }
        BIO_set_retry_read(bio);
        return -1;
    }
    if ((uint32_t) len > avail) {
        len = avail;
    }
    memcpy(data, t->in.data + t->in.head, len);
    t->in.head += len;
    if (t->in.head == t->in.tail) {
        t->in.head = t->in.tail = 0;
    }
    return len;
}

static long
bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    struct evpl_tls *t = BIO_get_data(bio);

    (void) num;
    (void) ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_CTRL_PENDING:
        return t ? (long) evpl_tls_buf_len(&t->in) : 0;
    case BIO_CTRL_WPENDING:
        return t ? (long) evpl_tls_buf_len(&t->out) : 0;
    case BIO_CTRL_EOF:
        return t && (t->flags & EVPL_TLS_EOF) && evpl_tls_buf_len(&t->in) == 0;
    default:
        return 0;
    }
}

static int
bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static void
bio_method_create(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "evpl tls buffers");

    if (m == NULL) {
        return;
    }
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

BIO *
evpl_tls_bio_new(struct evpl_tls *t)
{
    BIO *bio;

    pthread_once(&bio_method_once, bio_method_create);
    if (bio_method == NULL) {
        return NULL;
    }
    bio = BIO_new(bio_method);
    if (bio) {
        BIO_set_data(bio, t);
    }
    return bio;
}

void
evpl_tls_bio_shutdown(void)
{
    if (bio_method) {
        BIO_meth_free(bio_method);
        bio_method = NULL;
    }
}

#endif /* EVPL_HAVE_OPENSSL */
