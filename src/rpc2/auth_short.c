/*
 * AUTH_SHORT (RFC 5531 appendix A), opt-in per thread (extension): for an
 * AUTH_SYS call the server answers with an AUTH_SHORT verifier carrying an
 * 8-byte handle for that credential, and accepts the handle as the
 * credential of later calls on the same thread, presenting them to the
 * program as the AUTH_SYS credential it stands for.  The table is small and
 * direct-mapped by a hash of the credential: a credential that takes over a
 * slot bumps its generation, so the older handle goes stale and is refused
 * with AUTH_REJECTEDCRED, after which the client sends its full credential
 * again.
 */
#include <stdlib.h>

#include "rpc2_internal.h"

#define SHORT_SLOTS 256

struct short_entry {
    uint32_t gen;
    uint32_t uid, gid, num_gids;
    uint32_t gids[EVPL_RPC2_AUTH_SYS_MAX_GIDS];
    uint32_t namelen;
    char     name[256];
};

struct rpc2_short_table {
    struct short_entry slots[SHORT_SLOTS];
};

void
evpl_rpc2_thread_set_auth_short(struct evpl_rpc2_thread *thread, int enable)
{
    if (enable && thread->auth_short == NULL) {
        thread->auth_short = calloc(1, sizeof(*thread->auth_short));
        evpl_rpc2_abort_if(thread->auth_short == NULL, "out of memory");
    } else if (!enable) {
        free(thread->auth_short);
        thread->auth_short = NULL;
    }
}

void
rpc2_auth_short_free(struct evpl_rpc2_thread *thread)
{
    free(thread->auth_short);
    thread->auth_short = NULL;
}

static uint32_t
cred_hash(const struct evpl_rpc2_cred *cred)
{
    uint32_t h = 2166136261u;

#define MIX(v) (h = (h ^ (uint32_t) (v)) * 16777619u)
    MIX(cred->authsys.uid);
    MIX(cred->authsys.gid);
    MIX(cred->authsys.num_gids);
    for (uint32_t i = 0; i < cred->authsys.num_gids; i++) {
        MIX(cred->authsys.gids[i]);
    }
    for (int i = 0; i < cred->authsys.machinename_len; i++) {
        MIX((uint8_t) cred->authsys.machinename[i]);
    }
#undef MIX
    return h;
}

static int
entry_matches(const struct short_entry *e, const struct evpl_rpc2_cred *cred)
{
    return e->gen != 0 && e->uid == cred->authsys.uid && e->gid == cred->authsys.gid &&
           e->num_gids == cred->authsys.num_gids &&
           memcmp(e->gids, cred->authsys.gids, e->num_gids * sizeof(uint32_t)) == 0 &&
           e->namelen == (uint32_t) cred->authsys.machinename_len &&
           memcmp(e->name, cred->authsys.machinename, e->namelen) == 0;
}

void
rpc2_auth_short_issue(struct evpl_rpc2_thread *thread, const struct evpl_rpc2_cred *cred,
                      uint8_t handle[8])
{
    uint32_t            slot = cred_hash(cred) % SHORT_SLOTS;
    struct short_entry *e    = &thread->auth_short->slots[slot];

    if (!entry_matches(e, cred)) {
        e->gen++;
        if (e->gen == 0) {
            e->gen = 1;
        }
        e->uid      = cred->authsys.uid;
        e->gid      = cred->authsys.gid;
        e->num_gids = cred->authsys.num_gids;
        memcpy(e->gids, cred->authsys.gids, e->num_gids * sizeof(uint32_t));
        e->namelen = (uint32_t) cred->authsys.machinename_len;
        memcpy(e->name, cred->authsys.machinename, e->namelen);
    }
    rpc2_put_u32(handle, slot);
    rpc2_put_u32(handle + 4, e->gen);
}

int
rpc2_auth_short_resolve(struct evpl_rpc2_thread *thread, struct rpc2_call_header *h)
{
    uint32_t            slot = rpc2_get_u32(h->short_handle);
    uint32_t            gen  = rpc2_get_u32(h->short_handle + 4);
    struct short_entry *e;

    if (thread->auth_short == NULL || slot >= SHORT_SLOTS) {
        return -1;
    }
    e = &thread->auth_short->slots[slot];
    if (e->gen == 0 || e->gen != gen) {
        return -1;
    }
    memcpy(h->gids, e->gids, e->num_gids * sizeof(uint32_t));
    memcpy(h->machinename, e->name, e->namelen);
    h->machinename[e->namelen]      = '\0';
    h->cred.flavor                  = EVPL_RPC2_AUTH_SYS;
    h->cred.authsys.uid             = e->uid;
    h->cred.authsys.gid             = e->gid;
    h->cred.authsys.num_gids        = e->num_gids;
    h->cred.authsys.gids            = h->gids;
    h->cred.authsys.machinename     = h->machinename;
    h->cred.authsys.machinename_len = (int) e->namelen;
    return 0;
}
