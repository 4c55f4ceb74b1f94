/* The real layout of struct evpl_fd_event (public size: 80 bytes). */
#pragma once

#include "core/event.h"
#include "evpl/evpl.h"

struct evpl_fd_event {
    struct evpl_event        event; /* first: the event pointer is the fd event */
    evpl_fd_event_callback_t read_callback;
    evpl_fd_event_callback_t write_callback;
    evpl_fd_event_callback_t error_callback;
};
