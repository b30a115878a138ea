/*
 * errors.h: the one catalogue of errors eventsvc raises.
 *
 * Every SQLSTATE below is listed in docs/errors.md with its HTTP status under
 * PostgREST. PostgREST turns "PTxyz" into HTTP status xyz, so the product codes
 * use that form; standard codes are used where PostgREST already maps them right.
 * test/integration/catalogue.sh fails when a code here is missing from docs/errors.md.
 */
#ifndef EVENTSVC_ERRORS_H
#define EVENTSVC_ERRORS_H

#include "utils/elog.h"

/* 400: a field is missing, malformed or out of range. */
#define EVS_ERR_VALIDATION      ERRCODE_INVALID_PARAMETER_VALUE        /* 22023 */
/* 400: an amount does not fit in 64-bit minor units. */
#define EVS_ERR_OVERFLOW        ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE     /* 22003 */
/* 401 (HTTP surface): the token was revoked by the auth service (raised by eventsvc.check_request). */
#define EVS_ERR_TOKEN_REVOKED   MAKE_SQLSTATE('P','T','4','0','1')
/* 401 (HTTP surface): the token has no exp, or lives longer than eventsvc.token_max_lifetime. */
#define EVS_ERR_TOKEN_REJECTED  MAKE_SQLSTATE('P','T','4','0','1')
/* 401 without a token, 403 with one: no tenant, unknown or inactive tenant, role lacks a right. */
#define EVS_ERR_FORBIDDEN       ERRCODE_INSUFFICIENT_PRIVILEGE         /* 42501 */
/* 404: the row does not exist or belongs to another tenant (never says which). */
#define EVS_ERR_NOT_FOUND       MAKE_SQLSTATE('P','T','4','0','4')
/* 409: stale version, duplicate, overlapping event, state that forbids the action. */
#define EVS_ERR_CONFLICT        MAKE_SQLSTATE('P','T','4','0','9')
/* 409: the state machine has no such edge. */
#define EVS_ERR_ILLEGAL_TRANSITION MAKE_SQLSTATE('P','T','4','0','9')
/* 409: not enough seats left in the section. */
#define EVS_ERR_SOLD_OUT        MAKE_SQLSTATE('P','T','4','0','9')
/* 410: the hold has expired or was already released. */
#define EVS_ERR_GONE            MAKE_SQLSTATE('P','T','4','1','0')
/* 413: a document or text is larger than the tenant's quota allows (checked before any work). */
#define EVS_ERR_TOO_LARGE       MAKE_SQLSTATE('P','T','4','1','3')
/* 421: a shard was sent a call for a tenant or partition it does not hold (stale proxy directory). */
#define EVS_ERR_MISDIRECTED     MAKE_SQLSTATE('P','T','4','2','1')
/* 422: the idempotency key was used before with a different request. */
#define EVS_ERR_IDEMPOTENCY_MISMATCH MAKE_SQLSTATE('P','T','4','2','2')
/* 428: a critical change after sales needs an admin confirmation token. */
#define EVS_ERR_CONFIRMATION_REQUIRED MAKE_SQLSTATE('P','T','4','2','8')
/* 429: the tenant (or the customer) has used up a quota: events, live holds, seats. */
#define EVS_ERR_QUOTA_EXCEEDED  MAKE_SQLSTATE('P','T','4','2','9')
/*
 * 429 (HTTP surface): too many requests or reservations for the tenant or the
 * client address (eventsvc.check_request, src/core/rate_limit.c). Not an error
 * kind of raise_error: the SQLSTATE PGRST asks PostgREST for a response of its
 * own, with the status and the Retry-After header the error's detail names
 * (JSON) and as body the error's message (JSON), whose code is PT429.
 */
#define EVS_PGRST_RESPONSE      MAKE_SQLSTATE('P','G','R','S','T')
/* 400 (23514): a row would break a table invariant (check constraint). */
#define EVS_ERR_INVARIANT       ERRCODE_CHECK_VIOLATION                /* 23514 */
/* 503: not ready to serve (health_ready: worker down, outbox lagging, broker unreachable). */
#define EVS_ERR_UNAVAILABLE     MAKE_SQLSTATE('P','T','5','0','3')
/* 500 (XX000): internal inconsistency; should never be seen. */
#define EVS_ERR_INTERNAL        ERRCODE_INTERNAL_ERROR                 /* XX000 */

#endif
