/*
 * libevpl umbrella header: the only core header user code includes.
 *
 * The sub-headers refuse direct inclusion; they rely on each other's
 * declarations in the order below.
 */
#pragma once

#define EVPL_INCLUDED 1

#include "evpl/evpl_core.h"
#include "evpl/evpl_config.h"
#include "evpl/evpl_logging.h"
#include "evpl/evpl_memory.h"
#include "evpl/evpl_endpoint.h"
#include "evpl/evpl_deferral.h"
#include "evpl/evpl_doorbell.h"
#include "evpl/evpl_fd_event.h"
#include "evpl/evpl_poll.h"
#include "evpl/evpl_timer.h"
#include "evpl/evpl_bind.h"
#include "evpl/evpl_block.h"
#include "evpl/evpl_thread.h"
#include "evpl/evpl_rdma.h"

#undef EVPL_INCLUDED
