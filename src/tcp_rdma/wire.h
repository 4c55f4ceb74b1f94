/*
 * DATAGRAM_TCP_RDMA wire format.  The TCP byte stream between two peers is a
 * sequence of frames; all integers are little-endian.
 *
 *   every frame      type:u8  pad:u8[3]  length:u32          (8 bytes)
 *   MSG              payload of `length` bytes: one application message
 *   other frames     add id:u64  address:u64  key:u32  status:u32  (32 bytes)
 *     READ_REQ       read `length` bytes at (key, address); no payload
 *     READ_RESP      status 0: `length` bytes of data follow; else none
 *     WRITE_REQ      `length` bytes follow, to be stored at (key, address)
 *     WRITE_RESP     status of the write with the same id; no payload
 *
 * Requests are served in arrival order and answered in that order, so the
 * initiator matches responses against a FIFO of outstanding operations (the
 * id is a consistency check).  A frame of unknown type, or a response that
 * does not match, is a protocol error that closes the connection.
 */
#pragma once

#include <endian.h>
#include <stdint.h>

#define TCP_RDMA_MSG        1
#define TCP_RDMA_READ_REQ   2
#define TCP_RDMA_READ_RESP  3
#define TCP_RDMA_WRITE_REQ  4
#define TCP_RDMA_WRITE_RESP 5

#define TCP_RDMA_HDR_SHORT 8
#define TCP_RDMA_HDR_LONG  32

struct tcp_rdma_hdr {
    uint8_t  type;
    uint8_t  pad[3];
    uint32_t length;
    uint64_t id;
    uint64_t address;
    uint32_t key;
    uint32_t status;
};

_Static_assert(sizeof(struct tcp_rdma_hdr) == TCP_RDMA_HDR_LONG, "wire header layout");

static inline unsigned int
tcp_rdma_hdr_len(unsigned int type)
{
    return type == TCP_RDMA_MSG ? TCP_RDMA_HDR_SHORT : TCP_RDMA_HDR_LONG;
}

/* Payload bytes that follow a (decoded) header. */
static inline uint32_t
tcp_rdma_payload_len(const struct tcp_rdma_hdr *hdr)
{
    switch (hdr->type) {
    case TCP_RDMA_MSG:
    case TCP_RDMA_WRITE_REQ:
        return hdr->length;
    case TCP_RDMA_READ_RESP:
        return hdr->status == 0 ? hdr->length : 0;
    default:
        return 0;
    }
}

static inline void
tcp_rdma_hdr_encode(struct tcp_rdma_hdr *wire, unsigned int type, uint32_t length, uint64_t id,
                    uint64_t address, uint32_t key, uint32_t status)
{
    wire->type   = (uint8_t) type;
    wire->pad[0] = wire->pad[1] = wire->pad[2] = 0;
    wire->length                               = htole32(length);
    wire->id                                   = htole64(id);
    wire->address                              = htole64(address);
    wire->key                                  = htole32(key);
    wire->status                               = htole32(status);
}

/* In place: wire order to host order (the fields of a short header only
 * where the frame is a MSG). */
static inline void
tcp_rdma_hdr_decode(struct tcp_rdma_hdr *hdr)
{
    hdr->length = le32toh(hdr->length);
    if (hdr->type != TCP_RDMA_MSG) {
        hdr->id      = le64toh(hdr->id);
        hdr->address = le64toh(hdr->address);
        hdr->key     = le32toh(hdr->key);
        hdr->status  = le32toh(hdr->status);
    }
}
