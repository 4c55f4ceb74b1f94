/* The real layout of struct evpl_doorbell (public size: 64 bytes). */
#pragma once

#include "core/event.h"
#include "evpl/evpl.h"

struct evpl_doorbell {
    struct evpl_event        event; /* first: the event pointer is the doorbell */
    evpl_doorbell_callback_t callback;
};
