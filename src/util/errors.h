/*
 * Kafka error codes: enum kafka_error (KERR_*), kafka_error_name(),
 * kafka_error_retriable() and kafka_error_message().  Generated from
 * src/proto/schema/errors.schema with the codec; this header only forwards.
 */
#ifndef SAMSA_UTIL_ERRORS_H
#define SAMSA_UTIL_ERRORS_H

#include "proto/gen/constants.h"

#endif
